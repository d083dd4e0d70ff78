//! rewrite: pass a route parameter to the view and into the response.
//!
//! Bind it with the pattern `^/items/(?P<item>[^/]+)/$`. on_request sets the request header
//! `X-Item: <item>`; on_response replaces the body with `item <item>: <body>`.
const std = @import("std");
const wh = @import("wasmhooks");

export fn on_request() i32 {
    const item = wh.routeParam("item") catch return wh.CONTINUE;
    defer wh.free(item);
    wh.requestSetHeader("X-Item", item) catch {};
    return wh.CONTINUE;
}

export fn on_response() i32 {
    const item = wh.routeParam("item") catch return wh.OK;
    defer wh.free(item);
    // NotFound for a streaming response: leave it alone.
    const body = wh.responseBody() catch return wh.OK;
    defer wh.free(body);
    const new_body = std.mem.concat(wh.allocator, u8, &.{ "item ", item, ": ", body }) catch return wh.OK;
    defer wh.free(new_body);
    wh.responseSetBody(new_body) catch {};
    return wh.OK;
}
