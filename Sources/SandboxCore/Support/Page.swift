/// One page of a list, as `/api/v1/` answers `?limit=&cursor=`: the items under the list's own
/// key (`runs`, `events`, …, as the CLI's document names it), and `next_cursor`, the cursor of
/// the next page, null on the last.
public struct Page<Item: Encodable & Sendable>: Encodable, Sendable {
    public var key: String
    public var items: [Item]
    public var nextCursor: String?

    /// The largest page.
    public static var maximumLimit: Int { 1_000 }

    /// A page from `rows`, read with `LIMIT limit + 1`: one row more than `limit` means there
    /// is a next page, from the last item kept.
    init(key: String, rows: [Item], limit: Int, cursor: (Item) -> String) {
        self.key = key
        items = Array(rows.prefix(limit))
        nextCursor = rows.count > limit ? items.last.map(cursor) : nil
    }

    /// Refuses a limit out of 1…1000.
    public static func check(limit: Int) throws {
        guard (1...maximumLimit).contains(limit) else { throw SandboxError.invalidInput("limit must be from 1 to \(maximumLimit), got \(limit)") }
    }

    /// A numeric cursor (a row ID).
    static func rowID(_ cursor: String?) throws -> Int64? {
        guard let cursor else { return nil }
        guard let id = Int64(cursor), id >= 0 else { throw SandboxError.invalidInput("invalid cursor \(quoted(cursor)): expected the next_cursor of a page") }
        return id
    }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(items, forKey: Key(stringValue: key))
        try container.encode(nextCursor, forKey: Key(stringValue: "next_cursor"))
    }
}
