// Talking to the services: the page's config, the OAuth2 password sign-in at the token
// issuer, and reads with `Authorization: Bearer` (the token kept for this tab only).
"use strict";

const TOKEN_KEY = "jiedao.dashboard.token";

class NoAccess extends Error {}

const api = {
  config: null,

  async load() {
    const answer = await fetch("/dashboard/config.json");
    api.config = await answer.json();
    return api.config;
  },

  token() { return sessionStorage.getItem(TOKEN_KEY); },

  async signIn(username, password) {
    const body = new URLSearchParams({ grant_type: "password", username, password });
    const answer = await fetch(api.config.token_url, { method: "POST", body });
    const found = await answer.json().catch(() => ({}));
    if (!answer.ok) {
      throw new Error(found.error_description || found.detail || `HTTP ${answer.status}`);
    }
    sessionStorage.setItem(TOKEN_KEY, found.access_token);
    return api.who();
  },

  signOut() { sessionStorage.removeItem(TOKEN_KEY); },

  // The signed-in user's name and grants, read from the token's claims.
  who() {
    const token = api.token();
    if (!token) return null;
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const claims = JSON.parse(decodeURIComponent(escape(atob(part))));
      if (claims.exp && claims.exp * 1000 < Date.now()) return null;
      return { user: claims.sub, name: claims.name, roles: claims.roles || [] };
    } catch (error) {
      return null;
    }
  },

  // GET a service's read API (`service` null: this one); NoAccess on 401/403.
  async get(service, path, params) {
    const base = service ? api.config.services[service] : "";
    const url = new URL(base + path, location.href);
    for (const [k, v] of Object.entries(params || {})) {
      if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
    }
    const answer = await fetch(url, { headers: { Authorization: `Bearer ${api.token()}` } });
    if (answer.status === 401 || answer.status === 403) throw new NoAccess(path);
    if (!answer.ok) throw new Error(`${path}: HTTP ${answer.status}`);
    return answer.json();
  },
};
