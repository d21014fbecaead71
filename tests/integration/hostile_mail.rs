//! Hostile messages: each tries to run script, reach the page around it, or make the
//! browser fetch from somewhere other than the bridge. `BEACON` stands for an HTTP
//! address the test watches; `PM(x)` for a call that would post `x` to the page.

/// `(subject, content type, body)`.
pub const HOSTILE: &[(&str, &str, &str)] = &[
    (
        "script element",
        "text/html",
        "<script>PM('script');new Image().src='BEACON/script'</script><p>hi</p>",
    ),
    (
        "img onerror",
        "text/html",
        "<img src=x onerror=\"PM('onerror')\">",
    ),
    (
        "body onload",
        "text/html",
        "<body onload=\"PM('onload')\">text</body>",
    ),
    (
        "javascript link",
        "text/html",
        "<a href=\"javascript:PM('js')\">click</a>",
    ),
    (
        "svg script",
        "text/html",
        "<svg><script>PM('svg')</script></svg>",
    ),
    (
        "svg onload",
        "text/html",
        "<svg onload=\"PM('svgonload')\"></svg>",
    ),
    (
        "svg animate onbegin",
        "text/html",
        "<svg><animate onbegin=\"PM('animate')\" attributeName=\"x\" dur=\"1s\"/></svg>",
    ),
    (
        "svg use data",
        "text/html",
        "<svg><use href=\"data:image/svg+xml;base64,PHN2ZyBpZD0neCcgeG1sbnM9J2h0dHA6Ly93d3cudzMub3JnLzIwMDAvc3ZnJz48aW1hZ2UgaHJlZj0nMScgb25lcnJvcj0ncGFyZW50LnBvc3RNZXNzYWdlKDEsIionKScvPjwvc3ZnPg==#x\"/></svg>",
    ),
    (
        "svg animate href",
        "text/html",
        "<svg><a><animate attributeName=\"href\" values=\"javascript:PM('anim')\"/><text y=\"20\">x</text></a></svg>",
    ),
    (
        "meta refresh",
        "text/html",
        "<meta http-equiv=\"refresh\" content=\"0;url=BEACON/refresh\"><p>wait</p>",
    ),
    (
        "form post",
        "text/html",
        "<form action=\"BEACON/form\" method=\"post\"><input name=\"q\" value=\"x\"><button>go</button><input type=\"image\" src=\"BEACON/inputimg\"></form>",
    ),
    (
        "iframe",
        "text/html",
        "<iframe src=\"BEACON/iframe\"></iframe>",
    ),
    (
        "object",
        "text/html",
        "<object data=\"BEACON/object\"></object>",
    ),
    ("embed", "text/html", "<embed src=\"BEACON/embed\">"),
    (
        "remote stylesheet",
        "text/html",
        "<link rel=\"stylesheet\" href=\"BEACON/link.css\"><p>styled</p>",
    ),
    (
        "style import",
        "text/html",
        "<style>@import url(BEACON/import.css); body{background:url(BEACON/bg.png)}</style><p>x</p>",
    ),
    (
        "inline style url",
        "text/html",
        "<div style=\"background-image:url(BEACON/style-bg.png)\">x</div>",
    ),
    (
        "inline style quoted url",
        "text/html",
        "<div style=\"background:url('BEACON/style2.png') no-repeat\">x</div>",
    ),
    (
        "tracking pixel",
        "text/html",
        "<p>Hello</p><img src=\"BEACON/pixel.gif\" width=\"1\" height=\"1\">",
    ),
    (
        "srcset",
        "text/html",
        "<img srcset=\"BEACON/srcset.png 1x\" alt=\"s\">",
    ),
    (
        "picture source",
        "text/html",
        "<picture><source srcset=\"BEACON/source.png\"><img src=\"x\" alt=\"p\"></picture>",
    ),
    (
        "video poster",
        "text/html",
        "<video poster=\"BEACON/poster.png\" src=\"BEACON/video.mp4\" autoplay></video>",
    ),
    (
        "audio",
        "text/html",
        "<audio src=\"BEACON/audio.mp3\" autoplay></audio>",
    ),
    (
        "table background",
        "text/html",
        "<table background=\"BEACON/table-bg.png\"><tr><td>x</td></tr></table>",
    ),
    (
        "body background",
        "text/html",
        "<body background=\"BEACON/body-bg.png\">x</body>",
    ),
    (
        "base href",
        "text/html",
        "<base href=\"BEACON/\"><img src=\"relative.png\"><a href=\"rel\">rel</a>",
    ),
    (
        "data svg image",
        "text/html",
        "<img src=\"data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg' onload='PM(1)'/>\">",
    ),
    (
        "data html link",
        "text/html",
        "<a href=\"data:text/html,<script>PM('data')</script>\">data link</a>",
    ),
    (
        "css expression",
        "text/html",
        "<div style=\"width:expression(PM('expr'))\">x</div>",
    ),
    (
        "css behavior",
        "text/html",
        "<div style=\"behavior:url(BEACON/behavior.htc)\">x</div>",
    ),
    (
        "fixed overlay",
        "text/html",
        "<div style=\"position:fixed;top:0;left:0;width:100%;height:100%;background:red\">overlay</div>",
    ),
    (
        "mathml action",
        "text/html",
        "<math><maction actiontype=\"statusline\" xlink:href=\"javascript:PM('math')\">x</maction></math>",
    ),
    (
        "details ontoggle",
        "text/html",
        "<details open ontoggle=\"PM('toggle')\">x</details>",
    ),
    (
        "autofocus onfocus",
        "text/html",
        "<input autofocus onfocus=\"PM('focus')\"><p tabindex=1 autofocus onfocus=\"PM('focus2')\">f</p>",
    ),
    (
        "marquee onstart",
        "text/html",
        "<marquee onstart=\"PM('marquee')\">x</marquee>",
    ),
    (
        "noscript mutation",
        "text/html",
        "<noscript><p title=\"</noscript><img src=BEACON/noscript.png onerror=PM('ns')>\"></noscript>",
    ),
    (
        "comment mutation",
        "text/html",
        "<!--<img src=\"--><img src=BEACON/comment.png onerror=PM('c')>-->",
    ),
    (
        "svg style mutation",
        "text/html",
        "<svg><style><img src=BEACON/svgstyle.png onerror=PM('s')></style></svg>",
    ),
    (
        "mglyph mutation",
        "text/html",
        "<math><mtext><table><mglyph><style><img src=BEACON/mglyph.png onerror=PM('m')>",
    ),
    (
        "font face",
        "text/html",
        "<style>@font-face{font-family:x;src:url(BEACON/font.woff)} p{font-family:x}</style><p>font</p>",
    ),
    (
        "link ping",
        "text/html",
        "<a href=\"https://example.org/\" ping=\"BEACON/ping\">ping</a>",
    ),
    (
        "missing cid onerror",
        "text/html",
        "<img src=\"cid:nonexistent\" onerror=\"PM('cid')\">",
    ),
    (
        "object data html",
        "text/html",
        "<object type=\"text/html\" data=\"data:text/html,<script>PM(1)</script>\"></object>",
    ),
    (
        "frameset",
        "text/html",
        "<frameset onload=\"PM('frameset')\"><frame src=\"BEACON/frame\"></frameset>",
    ),
    (
        "svg image",
        "text/html",
        "<svg><image href=\"BEACON/svgimage.png\"/></svg>",
    ),
    (
        "svg foreign object",
        "text/html",
        "<svg><foreignObject><img src=\"BEACON/foreign.png\"></foreignObject></svg>",
    ),
    (
        "css image-set",
        "text/html",
        "<div style=\"background-image:image-set('BEACON/imageset.png' 1x)\">x</div>",
    ),
    (
        "css variable",
        "text/html",
        "<div style=\"--x:url(BEACON/var.png);background:var(--x)\">x</div>",
    ),
    (
        "plain text markup",
        "text/plain",
        "<img src=BEACON/plaintext.png onerror=PM('plain')> <script>PM('plain2')</script>",
    ),
    (
        "plain text js link",
        "text/plain",
        "javascript:PM('plainjs') and data:text/html,<script>PM(1)</script>",
    ),
];

/// The body with `BEACON` filled in and each `PM(x)` turned into
/// `parent.postMessage(x,'*')`, which the test listens for.
pub fn expand(body: &str, beacon: &str) -> String {
    let body = body.replace("BEACON", beacon);
    let mut out = String::with_capacity(body.len() * 2);
    let mut rest = body.as_str();
    while let Some(start) = rest.find("PM(") {
        out.push_str(&rest[..start]);
        let args = &rest[start + 3..];
        let end = args.find(')').unwrap_or(args.len());
        out.push_str(&format!("parent.postMessage({},'*')", &args[..end]));
        rest = args.get(end + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}
