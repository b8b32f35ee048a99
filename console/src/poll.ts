import { createContext } from 'preact';
import { useCallback, useContext, useEffect, useRef, useState } from 'preact/hooks';

/** How often the views read the API again on their own. */
export const REFRESH_MS = 5000;

/** Counts refreshes: every view that reads the API reads again when it changes. */
export const TickContext = createContext(0);

/** Ticks every REFRESH_MS while the tab is visible, and once more when it becomes visible again. */
export function useTicker(enabled: boolean): number {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!enabled) return undefined;
    const timer = window.setInterval(() => {
      if (document.visibilityState === 'visible') setTick((value) => value + 1);
    }, REFRESH_MS);
    const onVisible = () => document.visibilityState === 'visible' && setTick((value) => value + 1);
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      window.clearInterval(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [enabled]);
  return tick;
}

export interface Polled<T> {
  data: T | undefined;
  error: unknown;
  /** True until the first answer for the current `deps`. */
  loading: boolean;
  refresh: () => void;
}

/**
 * Loads on mount, whenever `deps` change, and on every tick; keeps the last data while a reload
 * fails (the banner says the API is unreachable). An answer to an older request (deps changed
 * meanwhile) is dropped, and a tick while a load is running is skipped.
 */
export function usePoll<T>(load: () => Promise<T>, deps: unknown[]): Polled<T> {
  const tick = useContext(TickContext);
  const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  const [manual, setManual] = useState(0);
  const generation = useRef(0);
  const running = useRef(false);
  const depsKey = JSON.stringify(deps);
  const lastKey = useRef(depsKey);

  useEffect(() => {
    const changed = lastKey.current !== depsKey;
    lastKey.current = depsKey;
    if (changed) {
      generation.current++;
      setState({ data: undefined, error: undefined, loading: true });
    } else if (running.current) {
      return;
    }
    const mine = generation.current;
    running.current = true;
    load().then(
      (data) => mine === generation.current && setState({ data, error: undefined, loading: false }),
      (error: unknown) => mine === generation.current && setState((previous) => ({ data: previous.data, error, loading: false })),
    ).finally(() => {
      if (mine === generation.current) running.current = false;
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [depsKey, tick, manual]);

  const refresh = useCallback(() => setManual((value) => value + 1), []);
  return { ...state, refresh };
}

/**
 * The time of this render (relative times in the tables): taken when the data being shown has
 * arrived, so a poll the API just reported is never "in 1 s". Subscribing to the tick re-renders
 * on every refresh even when nothing else changed.
 */
export function useNow(): Date {
  useContext(TickContext);
  return new Date();
}
