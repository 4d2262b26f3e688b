/** Public API of kv-cache. */
export {};
