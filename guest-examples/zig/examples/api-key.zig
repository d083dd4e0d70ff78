//! api-key: refuse requests without a valid X-Api-Key header.
//!
//! The binding's config is a comma-separated list of valid keys, e.g. `k1,k2`. A request whose
//! X-Api-Key header equals one of them goes on (CONTINUE); any other is answered with 401,
//! `Content-Type: application/json` and `{"error":"missing or invalid API key"}` (RESPOND).
const std = @import("std");
const wh = @import("wasmhooks");

fn refuse() i32 {
    wh.responseSetStatus(401) catch {};
    wh.responseSetHeader("Content-Type", "application/json") catch {};
    wh.responseSetBody("{\"error\":\"missing or invalid API key\"}") catch {};
    return wh.RESPOND;
}

export fn on_request() i32 {
    const key = wh.requestHeader("X-Api-Key") catch return refuse();
    defer wh.free(key);
    const keys = wh.config() catch return refuse();
    defer wh.free(keys);
    var it = std.mem.splitScalar(u8, keys, ',');
    while (it.next()) |valid| {
        // An empty entry (empty config, "a,,b") never matches.
        if (valid.len > 0 and std.mem.eql(u8, valid, key)) return wh.CONTINUE;
    }
    return refuse();
}
