/// <reference path="./.sst/platform/config.d.ts" />
// The SST app: one region per stage (stacks/deploy-target.ts), everything else in stacks/. Modules are
// imported inside app() and run(), as SST asks, since it loads its providers before run().
export default $config({
  async app(input) {
    const { deployTarget } = await import('./stacks/deploy-target.js');
    const target = deployTarget(input.stage);
    return {
      name: target.app,
      home: 'aws',
      // Production stages keep tables (and the VPC) on `sst remove` and refuse it outright.
      removal: target.production ? 'retain' : 'remove',
      protect: target.production,
      providers: { aws: { region: target.region } },
    };
  },
  async run() {
    const { deploy } = await import('./stacks/index.js');
    return deploy();
  },
});
