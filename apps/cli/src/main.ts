#!/usr/bin/env node
/** The baton command line (entry point). */
console.log("baton");
