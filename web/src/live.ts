// Live updates: one EventSource on /v1/notifications/events, authenticated
// by the session cookie. When the connection drops the browser reconnects
// by itself and sends Last-Event-ID (each event's id is the position after
// it), so nothing is missed or repeated. The unread badge starts from
// CountUnreadNotifications and counts what arrives.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, unwrap, idOf, loadSession, signedOut, type Notification } from "./api";

type Listener = (n: Notification) => void;
const listeners = new Set<Listener>();

/** Calls f for each notification that arrives while the page is open. */
export function useNotifications(f: Listener, key: unknown[]) {
  useEffect(() => {
    listeners.add(f);
    return () => {
      listeners.delete(f);
    };
  }, key);
}

export interface Live {
  unread: number;
  recent: Notification[];
  connected: boolean;
  markAllRead: () => Promise<void>;
  refresh: () => Promise<void>;
}

export function useLive(user: string): Live {
  const [unread, setUnread] = useState(0);
  const [recent, setRecent] = useState<Notification[]>([]);
  const [connected, setConnected] = useState(false);
  const id = idOf(user);

  const refresh = async () => {
    const [count, list] = await Promise.all([
      unwrap(api.GET("/v1/users/{user}/notifications:countUnread", { params: { path: { user: id } } })),
      unwrap(api.GET("/v1/users/{user}/notifications", { params: { path: { user: id }, query: { pageSize: 20 } } })),
    ]);
    setUnread(Number(count.unreadCount ?? 0));
    setRecent(list.notifications ?? []);
  };

  // Bumped to open a new EventSource after the browser gave up on one.
  const [attempt, setAttempt] = useState(0);
  // The position after the last event seen: a new EventSource resumes
  // there (?last_event_id=, as the browser's own reconnects send
  // Last-Event-ID).
  const lastId = useRef("");
  useEffect(() => {
    refresh().catch(() => {});
    const q = lastId.current ? `?last_event_id=${encodeURIComponent(lastId.current)}` : "";
    const es = new EventSource(`/v1/notifications/events${q}`);
    let retry: ReturnType<typeof setTimeout> | undefined;
    es.onopen = () => setConnected(true);
    es.onerror = () => {
      setConnected(false);
      // The browser retries a dropped connection by itself (with
      // Last-Event-ID) but not a refused one (401, 429, 503): if the
      // session ended, sign-in; else try again a little later.
      if (es.readyState !== EventSource.CLOSED) return;
      retry = setTimeout(async () => {
        const s = await loadSession().catch(() => null);
        if (s && !s.signedIn) signedOut();
        else setAttempt((a) => a + 1);
      }, 5000);
    };
    // The first event (no name) only sets the position.
    es.onmessage = (e) => {
      if (e.lastEventId) lastId.current = e.lastEventId;
    };
    es.addEventListener("notification", (e: MessageEvent<string>) => {
      if (e.lastEventId) lastId.current = e.lastEventId;
      let n: Notification;
      try {
        n = JSON.parse(e.data) as Notification;
      } catch {
        return;
      }
      setRecent((r) => [n, ...r.filter((x) => x.name !== n.name)].slice(0, 20));
      if (!n.read) setUnread((u) => u + 1);
      for (const f of listeners) f(n);
    });
    return () => {
      clearTimeout(retry);
      es.close();
    };
  }, [id, attempt]);

  const markAllRead = async () => {
    const latest = recent.reduce((m, n) => (BigInt(n.sequence) > m ? BigInt(n.sequence) : m), 0n);
    if (latest === 0n) return;
    await unwrap(
      api.POST("/v1/users/{user}/notifications:markRead", {
        params: { path: { user: id } },
        body: { upToSequence: latest.toString() },
      }),
    );
    setUnread(0);
    setRecent((r) => r.map((n) => ({ ...n, read: true })));
  };

  return { unread, recent, connected, markAllRead, refresh };
}
