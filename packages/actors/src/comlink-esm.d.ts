/**
 * Types for comlink's ESM build (the package ships them for its UMD entry only). The runtime
 * imports the ESM build so worker threads load it as a real ES module.
 */
declare module 'comlink/dist/esm/comlink.mjs' {
  export * from 'comlink';
}
