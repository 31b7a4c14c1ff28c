import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import SandboxCore

struct PricesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prices",
        abstract: "Show the price table: the built-in prices with your price file on top.",
        discussion: """
            Prices are dollars per million tokens. Add or correct prices in HOME/prices.json \
            (or the file given with --prices / NOVAOS_PRICES), in the built-in table's format; see README 'Prices'.
            """,
        subcommands: [List.self, Show.self]
    )

    struct List: ContextCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List every entry of the merged price table and where it comes from.")

        @Option(help: ArgumentHelp("Mark the entries in force at this day or time (default: now).", valueName: "date"), transform: dateArgument) var at: Date?
        @OptionGroup var format: TableFormat
        @OptionGroup var global: GlobalOptions

        func validate() throws { try format.check(json: global.json) }

        func execute(in context: CommandContext) throws {
            let date = at ?? context.clock()
            try context.emit(try global.priceCatalog(in: context).listing(at: date), json: global.json, format: format)
        }
    }

    struct Show: ContextCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show the prices of one model in force at a day or time.")

        @Argument(help: "The model, or one of its aliases.") var model: String
        @Option(help: ArgumentHelp("The day or time (default: now), like 2025-06-01.", valueName: "date"), transform: dateArgument) var at: Date?
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let date = at ?? context.clock()
            try context.emit(try global.priceCatalog(in: context).listing(model: model, at: date), json: global.json)
        }
    }
}

extension SandboxCommand {
    struct Reprice: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "reprice",
            abstract: "Recompute table-priced usage records against today's price table.",
            discussion: """
                Each record is priced at the entry in force at its time. Explicit costs (--cost) are never repriced. \
                Agent and project totals stay exactly the sums of their records. --dry-run shows the change and writes nothing.
                """
        )

        @Option(help: ArgumentHelp("Only this project's records.", valueName: "project-id")) var project: String?
        @Option(help: ArgumentHelp("Only records at or after this day or time, like 2026-11-01.", valueName: "date"), transform: dateArgument) var since: Date?
        @Flag(name: .customLong("dry-run"), help: "Show what would change; change nothing.") var dryRun = false
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let project = try project.map { try ProjectID($0) }
            let result = try global.sandbox(in: context).reprice(project: project, since: since, dryRun: dryRun)
            result.budgetWarnings.forEach(context.warn)
            try context.emit(result, json: global.json)
        }
    }
}

extension PriceList: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        var table = TextTable(
            headers: ["MODEL", "PROVIDER", "INPUT", "OUTPUT", "CACHE READ", "CACHE WRITE", "BATCH", "FROM", "UNTIL", "ORIGIN"],
            rightAligned: [2, 3, 4, 5, 6]
        )
        table.rows = prices.map { listing in
            let entry = listing.entry
            return [
                (listing.inForce ? "" : "(") + cell(entry.model) + (listing.inForce ? "" : ")"), cell(entry.provider ?? "-"),
                perMillion(entry.rates.input), perMillion(entry.rates.output), perMillion(entry.rates.cacheRead),
                perMillion(entry.rates.cacheWrite), entry.batchDiscountMillionths.map(percent) ?? "-",
                entry.effectiveFrom ?? "-", entry.effectiveUntil ?? "-", entry.origin == .builtIn ? "built-in" : "override",
            ]
        }
        var text = table.render(style) + "\nDollars per million tokens; (model): not in force on \(formatDate(at)).\n"
        let files = Set(prices.compactMap { listing -> String? in
            if case .override(let path) = listing.entry.origin { return path } else { return nil }
        })
        for file in files.sorted() { text += "override: \(cell(file, limit: 4096))\n" }
        return text
    }
}

extension PriceListing: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        var pairs: [(String, String)] = [
            ("entry", cell(entry.id, limit: 200)), ("provider", cell(entry.provider ?? "-")),
            ("aliases", entry.aliases.isEmpty ? "-" : cell(entry.aliases.joined(separator: ", "), limit: 200)),
        ]
        pairs += rates(entry.rates)
        pairs.append(("batch discount", entry.batchDiscountMillionths.map(percent) ?? "-"))
        for tier in entry.tiers {
            pairs.append(("prompts above", formatTokens(tier.aboveInputTokens) + " tokens"))
            pairs += rates(tier.rates).map { ("  " + $0.0, $0.1) }
        }
        pairs += [
            ("in force", "\(entry.effectiveFrom ?? "always") to \(entry.effectiveUntil ?? "now")"),
            ("origin", cell(entry.originName, limit: 200)), ("source", cell(entry.source ?? "-", limit: 200)),
            ("checked", entry.checked ?? "-"),
        ]
        return style.bold("Prices of \(cell(entry.model))") + " (dollars per million tokens)\n" + keyValues(pairs)
    }

    private func rates(_ rates: PriceEntry.Rates) -> [(String, String)] {
        [
            ("input", perMillion(rates.input)), ("output", perMillion(rates.output)), ("cache read", perMillion(rates.cacheRead)),
            ("cache write", perMillion(rates.cacheWrite)), ("cache write 1h", perMillion(rates.cacheWrite1h)),
        ]
    }
}

extension RepriceResult: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        var text = dryRun ? "Dry run: nothing was changed.\n" : ""
        guard !models.isEmpty else {
            return text + "Nothing to reprice: the \(plural(examinedRecords - unpricedRecords, "table-priced record")) in scope match the price table."
                + unpricedNote + "\n"
        }
        var table = TextTable(headers: ["MODEL", "RECORDS", "CHANGED", "OLD COST", "NEW COST", "DIFFERENCE"], rightAligned: [1, 2, 3, 4, 5])
        table.rows = models.map {
            [cell($0.model), String($0.records), String($0.changedRecords), $0.oldCost.description, $0.newCost.description, signed($0.difference)]
        }
        text += table.render(style)
        text += "\n\(changedRecords) of \(plural(examinedRecords, "record")) \(dryRun ? "would change" : "changed"): "
            + "\(oldCost) → \(newCost) (\(signed(newCost - oldCost))).\(unpricedNote)\n"
        return text
    }

    private var unpricedNote: String {
        unpricedRecords == 0 ? "" : " \(plural(unpricedRecords, "record")) without a price in today's table (unknown model, or none in force at its time) left as they were."
    }
}

private func plural(_ count: Int, _ noun: String) -> String { "\(count) \(noun)\(count == 1 ? "" : "s")" }

private func signed(_ amount: Money) -> String { amount.micros > 0 ? "+\(amount)" : amount.description }

private func perMillion(_ price: Money?) -> String { price.map { String($0.description.dropFirst()) } ?? "-" }

private func percent(_ millionths: Int64) -> String {
    var text = Money(micros: millionths * 100).description.dropFirst()
    if text.hasSuffix(".00") { text = text.dropLast(3) }
    return text + " %"
}


extension CacheDuration: ExpressibleByArgument {}
