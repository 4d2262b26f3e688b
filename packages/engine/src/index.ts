/** Public API of engine. */
export {};
