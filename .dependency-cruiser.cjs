/**
 * The direction of the layers (README "Layout"), checked by test/unit/dependency_rules.test.ts:
 *
 *   index.ts, cli/  →  transports/  →  models/  →  runtime/
 *
 * runtime/ knows model families only through the registry they fill in (models/register.ts), so a
 * new family or transport never edits the runtime.
 */
module.exports = {
  forbidden: [
    {
      name: 'runtime-stays-below',
      comment: 'runtime/ is the engine: it never imports model families or transports (families register themselves).',
      severity: 'error',
      from: { path: '^runtime/' },
      to: { path: '^(models|transports|cli|examples)/|^index\\.ts$' },
    },
    {
      name: 'models-below-transports',
      comment: 'A model family runs on the runtime alone: no transports, no command line.',
      severity: 'error',
      from: { path: '^models/' },
      to: { path: '^(transports|cli|examples)/|^index\\.ts$' },
    },
    {
      name: 'transports-below-entry-points',
      comment: 'Transports are library code: they never import the command line or the package root.',
      severity: 'error',
      from: { path: '^transports/' },
      to: { path: '^(cli|examples)/|^index\\.ts$' },
    },
    {
      name: 'cli-is-a-leaf',
      comment: 'Nothing but the command line itself imports cli/ (the package root exports no CLI code).',
      severity: 'error',
      from: { pathNot: '^cli/' },
      to: { path: '^cli/' },
    },
    {
      name: 'examples-use-the-package',
      comment: 'Examples ship in the package without the sources: they import "edgestream", never a source path.',
      severity: 'error',
      from: { path: '^examples/' },
      to: { path: '^(runtime|models|transports|cli)/|^index\\.ts$' },
    },
    {
      name: 'no-circular',
      comment: 'Import cycles make load order matter (type imports count too: the swc parser does not tell them apart).',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-unresolvable',
      comment: 'An import that resolves to nothing is a typo the rules above could not see through.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|runtime/kernels/assembly)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    parser: 'swc',
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json', '.d.ts'],
    },
  },
};
