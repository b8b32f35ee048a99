// Paging through file versions, of one server or merged across servers; pure (the fetch is passed in), unit-tested.

export interface FileLike {
  fileId: string;
  discoveredAt: string;
}

export interface ApiPage<T> {
  items: T[];
  nextToken: string | null;
}

/** GET /files for one server from a token (undefined: the newest). */
export type FetchFiles<T> = (serverId: string, nextToken: string | undefined) => Promise<ApiPage<T>>;

/**
 * A status filter is applied after DynamoDB's page limit, so a page of a long history can come
 * back short or empty with more to read. Requests go on until `size` versions are found, the
 * history ends, or `maxRequests` were made (a page of a server with no such version ends there).
 */
export async function serverPage<T>(fetch: FetchFiles<T>, serverId: string, start: string | undefined, size: number, maxRequests = 5): Promise<ApiPage<T>> {
  const items: T[] = [];
  let token = start;
  for (let request = 0; request < maxRequests; request++) {
    const page = await fetch(serverId, token);
    items.push(...page.items);
    if (!page.nextToken) return { items, nextToken: null };
    token = page.nextToken;
    if (items.length >= size) break;
  }
  return { items, nextToken: token ?? null };
}

interface Stream<T> {
  serverId: string;
  buffer: T[];
  /** undefined: not read yet; null: read to its end. */
  nextToken: string | null | undefined;
  /** The page on which a read found nothing within its budget: it is not read again for that page. */
  restingOn?: number;
}

const newer = (a: FileLike, b: FileLike) => (a.discoveredAt === b.discoveredAt ? a.fileId > b.fileId : a.discoveredAt > b.discoveredAt);

/**
 * Page `index` (0: the newest) of every server's versions together, newest discovered first: each
 * server's history is read newest first, and the page takes the newest head of them all, `size`
 * times. Recomputed from the start on every call, so every version shown is as fresh as the call;
 * page N costs about N + 1 requests per server. A server whose next versions `serverPage`'s request
 * budget did not reach sits this page out (with a status filter on a long history), so its older
 * matches can appear one page late.
 */
export async function mergedPage<T extends FileLike>(
  fetch: FetchFiles<T>,
  serverIds: string[],
  index: number,
  size: number,
): Promise<{ items: T[]; hasMore: boolean }> {
  const streams: Stream<T>[] = serverIds.map((serverId) => ({ serverId, buffer: [], nextToken: undefined }));
  const fill = async (stream: Stream<T>, current: number) => {
    if (stream.buffer.length > 0 || stream.nextToken === null || stream.restingOn === current) return;
    const page = await serverPage(fetch, stream.serverId, stream.nextToken, size);
    stream.buffer.push(...page.items);
    stream.nextToken = page.nextToken;
    if (page.items.length === 0) stream.restingOn = current;
  };
  let page: T[] = [];
  for (let current = 0; current <= index; current++) {
    page = [];
    while (page.length < size) {
      await Promise.all(streams.map((stream) => fill(stream, current)));
      let best: Stream<T> | undefined;
      for (const stream of streams) if (stream.buffer[0] && (!best || newer(stream.buffer[0], best.buffer[0]!))) best = stream;
      if (!best) break;
      page.push(best.buffer.shift()!);
    }
  }
  const hasMore = streams.some((stream) => stream.buffer.length > 0 || (stream.nextToken !== null && stream.nextToken !== undefined));
  return { items: page, hasMore };
}
