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

struct TemplateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "template",
        abstract: "Save a project's shape as a template, share it as a file, and create projects from it (create --template).",
        subcommands: [Save.self, List.self, Show.self, Delete.self, Export.self, Import.self]
    )
}

extension TemplateCommand {
    struct Save: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "save",
            abstract: "Save a project's description, cap, lifetime, agents and experiment hypotheses as a template."
        )

        @Argument(help: "The project, prj_XXXXXXXX.") var projectID: String
        @Argument(help: "The template's name (letters, digits, '.', '_', '-').") var name: String
        @Flag(help: "Replace a saved template of that name.") var replace = false
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let project = try ProjectID(projectID)
            try context.emit(try global.sandbox(in: context).saveTemplate(project: project, name: name, replace: replace), json: global.json)
        }
    }

    struct List: ContextCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the built-in and saved templates.")

        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            try context.emit(try global.sandbox(in: context).templates(), json: global.json)
        }
    }

    struct Show: ContextCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a template: a saved one's document, a built-in's settings.")

        @Argument(help: "The template's name.") var name: String
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            try context.emit(try global.sandbox(in: context).template(named: name), json: global.json)
        }
    }

    struct Delete: ContextCommand {
        static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a saved template (projects made from it keep everything).")

        @Argument(help: "The template's name.") var name: String
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            try context.emit(try global.sandbox(in: context).deleteTemplate(name), json: global.json)
        }
    }

    struct Export: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Write a saved template to a JSON file to share (never overwriting one; - for standard output)."
        )

        @Argument(help: "The template's name.") var name: String
        @Argument(help: "The new file, or - for standard output.") var file: String
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let sandbox = try global.sandbox(in: context)
            if file == "-" {
                var bytes = try JSONWriter().encode(try sandbox.savedTemplate(name))
                bytes.append(UInt8(ascii: "\n"))
                context.writeOutput(String(decoding: bytes, as: UTF8.self))
                return
            }
            let destination = context.url(forPath: file)
            _ = try sandbox.exportTemplate(name, to: destination)
            try context.emit(TemplateFile(name: name, path: destination.path), json: global.json)
        }
    }

    struct Import: ContextCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Save a template from a JSON file (as export writes it), checked field by field; - for standard input."
        )

        @Argument(help: "The template file, or - for standard input.") var file: String
        @Flag(help: "Replace a saved template of the same name.") var replace = false
        @OptionGroup var global: GlobalOptions

        func execute(in context: CommandContext) throws {
            let bytes = try readDocument(file, limit: JSONValue.maximumDocumentBytes)
            let template = try ProjectTemplate.parse(bytes, source: file == "-" ? "from standard input" : file)
            try context.emit(try global.sandbox(in: context, create: true).importTemplate(template, replace: replace), json: global.json)
        }
    }
}

/// Where `template export` wrote a template.
struct TemplateFile: Encodable, TextRenderable {
    var name: String
    var path: String

    func renderText(_ style: TextStyle) -> String { "Exported template \(cell(name)) to \(path)" }
}

/// Reads a whole small document from a file or (`-`) standard input, refusing more than
/// `limit` bytes, a folder or anything that is not a regular file or a pipe.
func readDocument(_ file: String, limit: Int) throws -> [UInt8] {
    let descriptor = file == "-" ? STDIN_FILENO : open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard descriptor >= 0 else { throw SandboxError.fileSystem(path: file, message: "cannot open: \(String(cString: strerror(errno)))") }
    defer { if descriptor != STDIN_FILENO { close(descriptor) } }
    var info = stat()
    if file != "-" {
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw SandboxError.fileSystem(path: file, message: "not a regular file")
        }
        _ = fcntl(descriptor, F_SETFL, 0)
    }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = read(descriptor, &buffer, buffer.count)
        if count < 0, errno == EINTR { continue }
        guard count >= 0 else { throw SandboxError.fileSystem(path: file, message: "cannot read: \(String(cString: strerror(errno)))") }
        if count == 0 { break }
        bytes += buffer[0..<count]
        guard bytes.count <= limit else { throw SandboxError.invalidInput("\(file) is too large: more than \(limit) bytes (1 MiB)") }
    }
    return bytes
}
