// The package's semantic version, and the vigil API release its types were checked against
// (proto/api/ holds that release's image; CHANGELOG.md says what changed since).
export const VERSION = "0.1.0";
export const API_VERSION = "0.1.0";
