/**
 * Hop URLs as hop-client parses them: `kafka://[user@]broker[,broker2]/topic1,topic2`.
 * The user part names the credential to use (hop ignores passwords in URLs,
 * and so do we: they are refused).
 *
 * @module
 */

/** A parsed hop URL. */
export interface HopUrl {
  /** User name from the URL, selecting a credential; undefined when absent. */
  readonly username?: string;
  /** `host:port` addresses (port 9092 when the URL has none). */
  readonly brokers: readonly string[];
  /** Topics, possibly none (write mode may name the topic per record). */
  readonly topics: readonly string[];
}

const TOPIC_RE = /^[A-Za-z0-9._-]{1,249}$/;

/** Parses a hop URL, failing with what was wrong. */
export function parseHopUrl(url: string): HopUrl {
  const m = /^kafka:\/\/(?:([^@/]*)@)?([^/]+)(?:\/(.*))?$/.exec(url.trim());
  if (!m) {
    throw new Error(
      `"${url}" is not a hop URL: expected kafka://[user@]host[:port]/topic1,topic2`,
    );
  }
  const [, userPart, hostPart, topicPart] = m;
  if (userPart !== undefined && userPart.includes(":")) {
    throw new Error(
      `hop URL "${url}" carries a password: put credentials in auth.toml or KB_KAFKA_PASSWORD`,
    );
  }
  const brokers = hostPart.split(",").map((b) => b.trim()).filter(Boolean).map((b) =>
    /:\d+$/.test(b) || /^\[.*\]:\d+$/.test(b) ? b : `${b}:9092`
  );
  if (!brokers.length) throw new Error(`hop URL "${url}" names no broker`);
  const topics = (topicPart ?? "").split(",").map((t) => t.trim()).filter(Boolean);
  for (const t of topics) {
    if (!TOPIC_RE.test(t) || t === "." || t === "..") {
      throw new Error(`hop URL "${url}": "${t}" is not a Kafka topic name ([A-Za-z0-9._-])`);
    }
  }
  return {
    username: userPart ? decodeURIComponent(userPart) : undefined,
    brokers,
    topics,
  };
}

/** Formats a hop URL (the inverse of {@link parseHopUrl}). */
export function formatHopUrl(u: HopUrl): string {
  const user = u.username ? `${encodeURIComponent(u.username)}@` : "";
  return `kafka://${user}${u.brokers.join(",")}/${u.topics.join(",")}`;
}
