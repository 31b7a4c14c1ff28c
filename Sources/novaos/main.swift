import NovaCLI

CommandLineTool.main()
