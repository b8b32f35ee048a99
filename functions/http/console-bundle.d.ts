// The console's build (scripts/console-build.ts), typed for a type check run before any build.
declare module '*/console/dist/bundle.json' {
  const bundle: { sourceHash: string; files: Record<string, { contentType: string; body: string }> };
  export default bundle;
}
