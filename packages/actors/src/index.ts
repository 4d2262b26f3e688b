/** Public API of actors. */
export {};
