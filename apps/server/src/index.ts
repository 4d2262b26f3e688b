/** Public API of @baton/server. */
export {};
