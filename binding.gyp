{
  "variables": {
    # liburing is optional: io_uring batched writes when its header is
    # installed (apt-get install liburing-dev), a plain write() loop otherwise.
    "has_liburing": "<!(test -f /usr/include/liburing.h && echo 1 || echo 0)"
  },
  "targets": [
    {
      "target_name": "taplab_tap",
      "sources": ["native/tap.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        ["has_liburing==1", {
          "defines": ["HAVE_LIBURING"],
          "libraries": ["-luring"]
        }]
      ]
    }
  ]
}
