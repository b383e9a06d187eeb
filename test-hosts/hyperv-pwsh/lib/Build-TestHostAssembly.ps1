# Compiles lib/*.cs into one assembly named LifeboatTestHost (pwsh.ts runs it once per content). Not Add-Type: Add-Type
# gives its output a random assembly name, and the module manifests name this assembly in NestedModules (PowerShell
# loads it by name; every session's pwsh already has it loaded, as its .NET startup hook). The same compiler, references
# and strictness as Add-Type: Roslyn from $PSHOME, .NET's reference assemblies in $PSHOME/ref plus
# System.Management.Automation, the latest C#, warnings as errors.
# Input in the environment, never in the command text: LB_TYPES_SOURCES (paths joined by the path separator) and
# LB_TYPES_TARGET (the .dll to write).
$ErrorActionPreference = 'Stop'
$null = [System.Reflection.Assembly]::Load('Microsoft.CodeAnalysis.CSharp')

$references = [System.Collections.Generic.List[Microsoft.CodeAnalysis.MetadataReference]]::new()
foreach ($file in [System.IO.Directory]::GetFiles([System.IO.Path]::Combine($PSHOME, 'ref'), '*.dll')) {
    $references.Add([Microsoft.CodeAnalysis.MetadataReference]::CreateFromFile($file))
}
$references.Add([Microsoft.CodeAnalysis.MetadataReference]::CreateFromFile([psobject].Assembly.Location))

$parse = [Microsoft.CodeAnalysis.CSharp.CSharpParseOptions]::Default.WithLanguageVersion([Microsoft.CodeAnalysis.CSharp.LanguageVersion]::Latest)
$trees = [System.Collections.Generic.List[Microsoft.CodeAnalysis.SyntaxTree]]::new()
foreach ($source in $env:LB_TYPES_SOURCES.Split([System.IO.Path]::PathSeparator)) {
    $text = [Microsoft.CodeAnalysis.Text.SourceText]::From([System.IO.File]::ReadAllText($source), [System.Text.Encoding]::UTF8)
    $trees.Add([Microsoft.CodeAnalysis.CSharp.CSharpSyntaxTree]::ParseText($text, $parse, $source, [System.Threading.CancellationToken]::None))
}
$options = [Microsoft.CodeAnalysis.CSharp.CSharpCompilationOptions]::new([Microsoft.CodeAnalysis.OutputKind]::DynamicallyLinkedLibrary).
    WithOptimizationLevel([Microsoft.CodeAnalysis.OptimizationLevel]::Release).
    WithGeneralDiagnosticOption([Microsoft.CodeAnalysis.ReportDiagnostic]::Error)
$compilation = [Microsoft.CodeAnalysis.CSharp.CSharpCompilation]::Create('LifeboatTestHost', $trees, $references, $options)

$stream = [System.IO.File]::Create($env:LB_TYPES_TARGET)
try {
    $result = $compilation.Emit($stream)
} finally {
    $stream.Dispose()
}
if (-not $result.Success) {
    foreach ($d in $result.Diagnostics) {
        if ($d.Severity -eq [Microsoft.CodeAnalysis.DiagnosticSeverity]::Error) { [Console]::Error.WriteLine($d.ToString()) }
    }
    exit 1
}
