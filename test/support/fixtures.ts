/**
 * Test support shared by the cross-package tests: where the Hugging Face reference checkpoint
 * lives (../shared/fixtures next to the repository), and a title that says so when it is missing
 * (tests that need it are skipped with that title, never passed silently).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The reference checkpoint directory. */
export const FIXTURE_DIR = fileURLToPath(new URL('../../../shared/fixtures/gpt2-tiny-bytes', import.meta.url));
/** Whether it is present. */
export const HAVE_FIXTURE = existsSync(`${FIXTURE_DIR}/model.safetensors`);
/** Suffix for describe titles of fixture tests. */
export const FIXTURE_NOTE = HAVE_FIXTURE ? '' : ` (SKIPPED: reference checkpoint not found at ${FIXTURE_DIR})`;
