// Hash routing: #/work, #/offender/ID, #/referral/ID, #/backlog, #/alerts, #/workload.
// Hashes that do not start with "#/" (the skip link's) are not routes and leave the page alone.
import { useEffect, useState } from 'preact/hooks';

export function parseRoute(hash) {
  const path = hash.startsWith('#/') ? hash.slice(2) : '';
  const [pathPart, queryPart = ''] = path.split('?');
  const parts = pathPart.split('/').filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || '', params: parts.slice(1), query: new URLSearchParams(queryPart) };
}

export function useRoute() {
  const [hash, setHash] = useState(routeHash());
  useEffect(() => {
    const onChange = () => {
      if (location.hash === '' || location.hash.startsWith('#/')) setHash(routeHash());
    };
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return { hash, ...parseRoute(hash) };
}

function routeHash() {
  return location.hash.startsWith('#/') ? location.hash : '#/';
}

export function navigate(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}
