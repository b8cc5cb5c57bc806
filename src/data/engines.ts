// Which engine holds each data source's documents: its own MongoDB cluster (`config.uri`), else
// the default cluster the operator named (BASTE_MONGODB_URI, passed in by the CLI), else the
// embedded store. One driver client per distinct connection string, opened on first need.
//
// The driver itself (mongodb-engine.ts and the `mongodb` package, with its own BSON and its 17 MB
// serialization buffer) is imported only when some data source can reach a cluster: an app on the
// embedded store never pays for it.

import type { DataSourceConfig } from '../app/model.js';
import { ConfigError } from '../errors.js';
import type { DocumentEngine } from './engine.js';
import type { MongoDocumentsOptions } from './mongodb-engine.js';

type OpenMongoDocuments = typeof import('./mongodb-engine.js').openMongoDocuments;

export interface MongoClusterOptions extends MongoDocumentsOptions {
  /** The cluster for data sources without a `config.uri` of their own. */
  readonly uri?: string;
}

export interface DataEngines {
  /** The engine of a data source (the embedded store when there is none). */
  engineFor(source: DataSourceConfig | undefined): DocumentEngine;
  /** Closes the clusters opened here; the embedded store belongs to whoever passed it in. */
  close(): Promise<void>;
}

/**
 * The engines of `sources` (the app's data sources; every one that `engineFor` will be asked
 * about). Async because it loads the MongoDB driver when one of them, or the default cluster,
 * names a connection string.
 */
export async function dataEngines(
  embedded: DocumentEngine,
  mongodb: MongoClusterOptions = {},
  sources: Iterable<DataSourceConfig> = [],
): Promise<DataEngines> {
  const needsDriver = Boolean(mongodb.uri) || [...sources].some((s) => Boolean(s.uri));
  const openMongoDocuments: OpenMongoDocuments | undefined = needsDriver ? (await import('./mongodb-engine.js')).openMongoDocuments : undefined;
  const clusters = new Map<string, DocumentEngine>();
  return {
    engineFor(source) {
      const uri = source?.uri || mongodb.uri;
      if (!uri) return embedded;
      let engine = clusters.get(uri);
      if (!engine) {
        // A source that was not among `sources`: a caller's mistake, not the operator's.
        if (!openMongoDocuments) throw new Error(`data source '${source?.name}' was not passed to dataEngines: the MongoDB driver is not loaded`);
        try {
          engine = openMongoDocuments(uri, mongodb);
        } catch (err) {
          // The driver parses the string up front; say whose it is (never echoing it: it may hold a password).
          const whose = source?.uri ? `data source '${source.name}'` : 'BASTE_MONGODB_URI';
          throw new ConfigError(whose, source?.uri ? 'config.uri' : undefined, `not a usable MongoDB connection string: ${(err as Error).message}`);
        }
        clusters.set(uri, engine);
      }
      return engine;
    },
    async close() {
      const open = [...clusters.values()];
      clusters.clear();
      await Promise.all(open.map((e) => e.close()));
    },
  };
}
