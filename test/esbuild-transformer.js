// Transforms TypeScript and ESM to CommonJS for jest. Type checking is `tsc --noEmit`.
const { transformSync } = require('esbuild');
module.exports = {
  process(source, filename) {
    const loader = filename.endsWith('.ts') ? 'ts' : 'js';
    const { code, map } = transformSync(source, { loader, format: 'cjs', target: 'node20', sourcemap: 'inline', sourcefile: filename, supported: { 'dynamic-import': false } });
    return { code, map };
  },
};
