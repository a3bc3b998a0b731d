# The package's semantic version, and the vigil API release its stubs were checked against
# (proto/api/ holds that release's image; CHANGELOG.md says what changed since).
__version__ = "0.1.0"
API_VERSION = "0.1.0"
