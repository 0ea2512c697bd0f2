{
  "targets": [
    {
      "target_name": "keepstate",
      "sources": ["keepstate.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-O2", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags!": ["-O3"]
    }
  ]
}
