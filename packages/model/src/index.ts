/** Public API of model. */
export {};
