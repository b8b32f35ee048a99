/**
 * Runs `each` over the items in order, with at most `limit` weight in flight (an item weighing the
 * limit or more runs alone); all at once without `concurrency`. Results in the items' order.
 */
export async function mapWeighted<I, T>(items: readonly I[], concurrency: { limit: number; weight: (item: I) => number } | undefined, each: (item: I) => Promise<T>): Promise<T[]> {
  if (!concurrency) return Promise.all(items.map(each));
  let inFlight = 0;
  const waiting: (() => boolean)[] = [];
  const admit = (weight: number) =>
    new Promise<void>((resolve) => {
      const tryNow = () => {
        if (inFlight > 0 && inFlight + weight > concurrency.limit) return false;
        inFlight += weight;
        resolve();
        return true;
      };
      if (waiting.length > 0 || !tryNow()) waiting.push(tryNow);
    });
  const leave = (weight: number) => {
    inFlight -= weight;
    while (waiting.length > 0 && waiting[0]!()) waiting.shift();
  };
  return Promise.all(
    items.map(async (item) => {
      const weight = Math.max(0, concurrency.weight(item));
      await admit(weight);
      try {
        return await each(item);
      } finally {
        leave(weight);
      }
    }),
  );
}
