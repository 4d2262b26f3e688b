/** Public API of @baton/bench. */
export {};
