#!/usr/bin/env node
// Committed launcher: `baton-bench ARGS` runs `baton bench ARGS` standalone (needs the TypeScript build).
import { benchCommand } from "../dist/index.js";

process.exitCode = await benchCommand(process.argv.slice(2));
