/*
 * assets — the dashboard's files, embedded into the binary at build time.
 * Paths are relative to the top of the tree (make runs the assembler there);
 * echarts.min.js is copied into build/web/ from the npm lockfile install.
 */
#define ASSET(name, file)            \
    .global name;                    \
    .global name##_end;              \
    .balign 16;                      \
name:                                \
    .incbin file;                    \
name##_end:                          \
    .byte 0

    .section .rodata
ASSET(sf_asset_index_html, "web/index.html")
ASSET(sf_asset_app_js, "web/app.js")
ASSET(sf_asset_style_css, "web/style.css")
ASSET(sf_asset_explore_html, "web/explore.html")
ASSET(sf_asset_explore_js, "web/explore.js")
ASSET(sf_asset_query_js, "web/query.js")
ASSET(sf_asset_echarts_js, ECHARTS_JS)

    .section .note.GNU-stack,"",@progbits
