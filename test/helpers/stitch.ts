// A client of the Stitch server SDK (mongodb-stitch-server-sdk) for a test server's app.

import { MemoryStorage, Stitch, StitchAppClientConfiguration, type StitchAppClient } from 'mongodb-stitch-server-sdk';

/**
 * A fresh client of `server`'s app keeping its state in a MemoryStorage named `storage`. The SDK
 * keeps one client per app id, so the ones made before are cleared first (`Stitch.clearApps()`).
 */
export function stitchClientFor(server: { url: string; appId: string }, storage: string): StitchAppClient {
  Stitch.clearApps();
  return Stitch.initializeAppClient(
    server.appId,
    new StitchAppClientConfiguration.Builder().withBaseUrl(server.url).withStorage(new MemoryStorage(storage)).build(),
  );
}
