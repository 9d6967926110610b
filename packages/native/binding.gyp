{
  "targets": [
    {
      "target_name": "tpdk_native",
      "sources": ["src/tpdk_native.cc"],
      "cflags_cc": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-cast-function-type"],
      "defines": ["_GNU_SOURCE"]
    }
  ]
}
