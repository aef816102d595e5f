// Live updates: one EventSource on /v1/notifications/events, authenticated
// by the session cookie. When the connection drops the browser reconnects
// by itself and sends Last-Event-ID (each event's id is the position after
// it), so nothing is missed or repeated. The unread badge starts from
// CountUnreadNotifications and counts what arrives.
import { useEffect, useState } from "preact/hooks";
import { api, unwrap, idOf, type Notification } from "./api";

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

  useEffect(() => {
    refresh().catch(() => {});
    const es = new EventSource("/v1/notifications/events");
    es.onopen = () => setConnected(true);
    es.onerror = () => setConnected(false);
    es.addEventListener("notification", (e: MessageEvent<string>) => {
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
    return () => es.close();
  }, [id]);

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
