/** @jsxImportSource hono/jsx */
/**
 * The frame of every page: landmarks (header/nav, main, footer), the signed-in
 * user with the logout form, the style sheets and scripts from `/static/`
 * (nothing inline: the CSP forbids it).
 *
 * @module
 */
import type { Child } from "hono/jsx";
import { ASSETS } from "../static.ts";

/** Who is looking at a page. */
export interface PageUser {
  readonly username: string;
  readonly roles: readonly string[];
  /** The session's CSRF token, put in every form. */
  readonly csrf: string;
}

/** A hidden CSRF field for a form. */
export const Csrf = (p: { user: PageUser }) => (
  <input type="hidden" name="_csrf" value={p.user.csrf} />
);

/** The page frame. */
export function Layout(
  p: { title: string; user?: PageUser; plots?: boolean; children?: Child },
) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{p.title} · kilonova-broker TOM</title>
        <link rel="stylesheet" href={ASSETS.appCss} />
        {p.plots && <link rel="stylesheet" href={ASSETS.uplotCss} />}
        {p.plots && <script src={ASSETS.uplotJs} defer></script>}
        {p.plots && <script src={ASSETS.appJs} defer></script>}
      </head>
      <body>
        <a class="skip" href="#main">Skip to content</a>
        <header>
          <nav aria-label="Main">
            <a href="/targets/" class="brand">kilonova-broker TOM</a>
            <a href="/targets/">Targets</a>
            <a href="/events/">Events</a>
            <a href="/docs">API</a>
          </nav>
          {p.user && (
            <form method="post" action="/auth/logout" class="who">
              <span>
                {p.user.username} ({p.user.roles.join(", ") || "no role"})
              </span>
              <Csrf user={p.user} />
              <button type="submit" id="logout">Log out</button>
            </form>
          )}
        </header>
        <main id="main">
          <h1>{p.title}</h1>
          {p.children}
        </main>
        <footer>
          <p>kilonova-broker · targets from the broker's derived alerts</p>
        </footer>
      </body>
    </html>
  );
}

/** A page with a message (errors, logged out). */
export function MessagePage(
  p: { title: string; message: string; user?: PageUser; link?: { href: string; text: string } },
) {
  return (
    <Layout title={p.title} user={p.user}>
      <p role="alert">{p.message}</p>
      {p.link && (
        <p>
          <a href={p.link.href} id="message-link">{p.link.text}</a>
        </p>
      )}
    </Layout>
  );
}
