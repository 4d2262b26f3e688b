// Bundles tfjs-core's gradient functions (dist/register_all_gradients.js, ES modules with
// extensionless imports that Node cannot load) into dist/tfjs-gradients.cjs. Every import of
// tfjs-core internals is redirected to the package's public CommonJS entry, so the gradients
// run the same tfjs-core instance (ops, engine, kernels) as the rest of the program.
import { build } from 'esbuild';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';

const require = createRequire(import.meta.url);
const coreDist = dirname(require.resolve('@tensorflow/tfjs-core/dist/register_all_gradients.js'));
const OWN = /^(gradients\/|register_all_gradients|min_max_grad_util)/;
const SHIMS = {
  util: "module.exports = require('@tensorflow/tfjs-core').util;",
  'ops/broadcast_util': "module.exports = require('@tensorflow/tfjs-core').backend_util;",
  'ops/axis_util': "module.exports = require('@tensorflow/tfjs-core').backend_util;",
  'ops/conv_util': "module.exports = require('@tensorflow/tfjs-core').backend_util;",
  'ops/selu_util': "module.exports = require('@tensorflow/tfjs-core').backend_util;",
  'ops/slice_util': "module.exports = require('@tensorflow/tfjs-core').slice_util;",
  engine: "module.exports = { ENGINE: require('@tensorflow/tfjs-core').engine() };",
};

await build({
  entryPoints: [join(coreDist, 'register_all_gradients.js')],
  bundle: true,
  format: 'cjs',
  platform: 'node',
  outfile: 'dist/tfjs-gradients.cjs',
  external: ['@tensorflow/tfjs-core'],
  logLevel: 'warning',
  plugins: [{
    name: 'tfjs-core-public-api',
    setup(b) {
      b.onResolve({ filter: /^\./ }, (args) => {
        const target = relative(coreDist, join(args.resolveDir, args.path)).replace(/\\/g, '/').replace(/\.js$/, '');
        if (OWN.test(target)) return { path: join(coreDist, `${target}.js`) };
        return { path: target, namespace: 'tfjs-core-shim' };
      });
      b.onLoad({ filter: /.*/, namespace: 'tfjs-core-shim' }, (args) => ({
        contents: SHIMS[args.path] ?? "module.exports = require('@tensorflow/tfjs-core');",
        loader: 'js',
      }));
    },
  }],
});
