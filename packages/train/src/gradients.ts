/**
 * Gradient functions for tf.variableGrads. NOTE: tfjs-core's Node build registers none (its
 * `register_all_gradients` module exists only as untranspiled ES modules with extensionless
 * imports, which Node cannot load), so the package build bundles that module with esbuild into
 * dist/tfjs-gradients.cjs. Its registry lives on the global object shared by every copy of
 * tfjs-core, so the gradients it registers serve the tfjs-core instance everything else uses.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { TrainError } from './errors.js';

let registered = false;

/** The bundled module: beside this file in dist/, or in ../dist/ when this file runs from src/ (tests). */
function bundleUrl(): URL {
  const here = new URL('./tfjs-gradients.cjs', import.meta.url);
  return existsSync(fileURLToPath(here)) ? here : new URL('../dist/tfjs-gradients.cjs', import.meta.url);
}

/** Registers tfjs's gradient functions once per thread; throws TrainError when the bundle is missing. */
export async function registerGradients(): Promise<void> {
  // NOTE: a program bundled with the gradients (the GPU machine's single-file build) has them already.
  if (registered || tf.getGradient('BatchMatMul') !== undefined) return;
  const url = bundleUrl();
  if (!existsSync(fileURLToPath(url))) throw new TrainError(`${fileURLToPath(url)} is missing: build @baton/train first (npm run build -w @baton/train)`);
  await import(url.href);
  if (tf.getGradient('BatchMatMul') === undefined) throw new TrainError('the bundled gradients did not register with this tfjs-core');
  registered = true;
}
