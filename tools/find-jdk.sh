# Sourced by ./snapscore and ./build: sets JAVA_HOME to a JDK >= 22 (FFM is final since Java 22), and
# JAVA_FEATURE_VERSION to its version.
# Order: $JAVA_HOME if recent enough, then the newest JDK under /usr/lib/jvm, then `java` on PATH.

java_feature_version() { # prints the feature version of the java binary $1, or 0
  # A JDK's `release` file names its version; reading it with shell builtins costs nothing, starting a JVM to
  # ask ~0.1 s. (Every command runs this: forks of dirname, grep and sed added ~40 ms to each.)
  local real line v
  real=$(readlink -f "$1")
  if [ -f "${real%/bin/*}/release" ]; then
    while IFS= read -r line; do
      case $line in
        JAVA_VERSION=\"[0-9]*) v=${line#JAVA_VERSION=\"}; echo "${v%%[!0-9]*}"; return ;;
      esac
    done < "${real%/bin/*}/release"
  fi
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p' | head -n 1
}

snapscore_find_jdk() {
  local candidate best="" best_version=0 v
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
    v=$(java_feature_version "$JAVA_HOME/bin/java")
    if [ "${v:-0}" -ge 22 ]; then JAVA_FEATURE_VERSION=$v; return 0; fi
  fi
  for candidate in /usr/lib/jvm/*/bin/java /opt/java/*/bin/java "$(command -v java 2>/dev/null)"; do
    [ -x "$candidate" ] && [ -x "${candidate%/*}/javac" ] || continue
    v=$(java_feature_version "$candidate")
    if [ "${v:-0}" -gt "$best_version" ]; then best_version=$v; best=$candidate; fi
  done
  if [ "$best_version" -lt 22 ]; then
    echo "snapscore: needs a JDK 22 or newer (found ${best_version:-none}); install one, e.g. Temurin 25, or set JAVA_HOME" >&2
    return 1
  fi
  best=$(readlink -f "$best")
  JAVA_HOME=${best%/bin/*}
  JAVA_FEATURE_VERSION=$best_version
  export JAVA_HOME
}
