// The gallery of a child's media (thumbnails, newest first, paged) and the
// viewer of one item (?item=<id>): photos at full size, videos played from
// the original with seeking (the gateway serves Range requests). What the
// browser cannot show (HEIC photos, HEVC video, ...) is shown through the
// large JPEG thumbnail, with the original to download.
import { useEffect, useState } from "preact/hooks";
import { api, contentURL, hasThumbnail, idOf, unwrap, type Child, type MediaItem } from "../api";
import { useNotifications } from "../live";
import { Link, navigate } from "../router";
import { ErrorBox, Loading, enumLabel, formatDate } from "../ui";

/** Whether this browser can show the item's original in <img> or <video>. */
export function playable(item: MediaItem): boolean {
  const type = (item.contentType ?? "").split(";")[0]!.trim().toLowerCase();
  if (item.kind === "MEDIA_KIND_VIDEO" || type.startsWith("video/")) {
    if (!type) return false;
    const v = document.createElement("video");
    return v.canPlayType(item.contentType ?? type) !== "";
  }
  // Image types every supported browser decodes.
  return ["image/jpeg", "image/png", "image/gif", "image/webp", "image/avif", "image/svg+xml"].includes(type);
}

function label(item: MediaItem): string {
  return item.title || item.caption || `${enumLabel(item.kind, "MEDIA_KIND_") || "Media"} of ${formatDate(item.takenTime || item.createTime)}`;
}

function Viewer({ child, itemId, newer, older }: { child: Child; itemId: string; newer?: string; older?: string }) {
  const childId = idOf(child.name);
  const [item, setItem] = useState<MediaItem | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [undecodable, setUndecodable] = useState(false);
  useEffect(() => {
    setItem(null);
    setError(null);
    setUndecodable(false);
    unwrap(api.GET("/v1/children/{child}/media/{mediaItem}", { params: { path: { child: childId, mediaItem: itemId } } })).then(
      setItem,
      setError,
    );
  }, [childId, itemId]);
  const back = `/children/${childId}/gallery`;
  const close = (
    <Link href={back} class="button small">
      Back to the gallery
    </Link>
  );
  if (error) return <div class="viewer"><ErrorBox error={error} />{close}</div>;
  if (!item) return <Loading />;
  const isVideo = item.kind === "MEDIA_KIND_VIDEO" || (item.contentType ?? "").startsWith("video/");
  const canShow = item.state === "MEDIA_STATE_READY" && playable(item);
  const large = hasThumbnail(item, "large");
  let view;
  if (item.state !== "MEDIA_STATE_READY") {
    view = <p class="muted">{item.state === "MEDIA_STATE_FAILED" ? `Could not be processed. ${item.failureReason ?? ""}` : "Still being processed…"}</p>;
  } else if (isVideo && canShow && !undecodable) {
    // canPlayType judges the container ("video/mp4"), not the codec inside:
    // a video the browser cannot decode (HEVC in most) errors, or loads with
    // no picture, and then gets the fallback below.
    view = (
      <video
        controls
        preload="metadata"
        playsInline
        poster={large ? contentURL(item, "large") : undefined}
        aria-label={label(item)}
        onError={() => setUndecodable(true)}
        onLoadedMetadata={(e) => e.currentTarget.videoWidth === 0 && setUndecodable(true)}
      >
        <source src={contentURL(item)} type={item.contentType} onError={() => setUndecodable(true)} />
      </video>
    );
  } else if (canShow && !isVideo) {
    view = <img src={contentURL(item)} alt={label(item)} />;
  } else {
    view = (
      <>
        {large ? <img src={contentURL(item, "large")} alt={label(item)} /> : <p class="muted">No preview.</p>}
        <p class="muted">
          {isVideo ? "This browser cannot play this video's format" : "This browser cannot show this photo's format"}
          {item.contentType ? ` (${item.contentType})` : ""}: the preview is a still picture; download the original to see it.
        </p>
      </>
    );
  }
  return (
    <div class="viewer">
      <div class="viewer-media">{view}</div>
      <div class="viewer-info">
        {item.title && <h2>{item.title}</h2>}
        {item.caption && <p>{item.caption}</p>}
        <p class="muted">{formatDate(item.takenTime || item.createTime)}</p>
        <div class="actions">
          {newer && (
            <Link href={`/children/${childId}/gallery?item=${newer}`} class="button small">
              ← Newer
            </Link>
          )}
          {older && (
            <Link href={`/children/${childId}/gallery?item=${older}`} class="button small">
              Older →
            </Link>
          )}
          {close}
          {item.state === "MEDIA_STATE_READY" && (
            <a class="button small" href={contentURL(item)} download>
              Download original
            </a>
          )}
        </div>
      </div>
    </div>
  );
}

export function Gallery({ child, url }: { child: Child; url: URL }) {
  const childId = idOf(child.name);
  const itemId = url.searchParams.get("item");
  const [items, setItems] = useState<MediaItem[]>([]);
  const [token, setToken] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const load = async (pageToken: string | undefined) => {
    setBusy(true);
    setError(null);
    try {
      const page = await unwrap(
        api.GET("/v1/children/{child}/media", { params: { path: { child: childId }, query: { pageSize: 30, pageToken } } }),
      );
      setItems((old) => (pageToken ? [...old, ...(page.mediaItems ?? [])] : (page.mediaItems ?? [])));
      setToken(page.nextPageToken || undefined);
      setDone(!page.nextPageToken);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    load(undefined);
  }, [childId]);
  useNotifications(
    (n) => {
      if (n.child === child.name && n.type === "EVENT_TYPE_MEDIA_READY") load(undefined);
    },
    [child.name],
  );

  if (itemId) {
    // Newer and older within what the gallery has loaded.
    const i = items.findIndex((m) => idOf(m.name) === itemId);
    const at = (j: number) => (i >= 0 && items[j] ? idOf(items[j]!.name) : undefined);
    return <Viewer child={child} itemId={itemId} newer={at(i - 1)} older={at(i + 1)} />;
  }
  return (
    <section aria-labelledby="gallery-title">
      <h2 id="gallery-title" class="visually-hidden">
        Gallery
      </h2>
      {items.length === 0 && !busy && !error && <p class="muted">No photos or videos yet.</p>}
      <ul class="gallery">
        {items.map((item) => (
          <li key={item.name}>
            <a
              href={`/children/${childId}/gallery?item=${idOf(item.name)}`}
              onClick={(e) => {
                e.preventDefault();
                navigate(`/children/${childId}/gallery?item=${idOf(item.name)}`);
              }}
            >
              {item.state === "MEDIA_STATE_READY" && hasThumbnail(item, "small") ? (
                <img src={contentURL(item, "small")} alt={label(item)} loading="lazy" width={160} height={160} />
              ) : (
                <span class="thumb-placeholder">
                  {item.state === "MEDIA_STATE_FAILED" ? "Failed" : "Processing…"}
                  <span class="visually-hidden">: {label(item)}</span>
                </span>
              )}
              {item.kind === "MEDIA_KIND_VIDEO" && (
                <span class="play" aria-hidden="true">
                  ▶
                </span>
              )}
            </a>
          </li>
        ))}
      </ul>
      <ErrorBox error={error} />
      {busy && <Loading />}
      {!busy && !done && (
        <button type="button" class="button" onClick={() => load(token)}>
          Load more
        </button>
      )}
    </section>
  );
}
