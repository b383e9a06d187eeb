# Runs on the test machine's pwsh 7 only (never on a Hyper-V host): parses each script Lifeboat sends with PowerShell's
# own parser and reports what Windows PowerShell 5.1 would refuse or run differently. Scripts come as a JSON array of
# strings in the file named by LB_PS51_INPUT; the answer is one JSON document on stdout. Rule ids and their sources
# are listed in adapters/hyperv/README.md ("Windows PowerShell 5.1 and PowerShell 7").
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 3

$rules = @(
  'parse-error', 'ternary', 'pipeline-chain', 'null-coalescing', 'null-coalescing-assignment', 'null-conditional-member',
  'null-conditional-index', 'clean-block', 'background-operator', 'number-literal', 'command', 'parameter',
  'join-path-parts', 'encoding-name', 'variable', 'dotnet-member'
)

# Cmdlets that Windows PowerShell 5.1 does not have.
$sevenOnlyCommands = @(
  'Get-Error', 'Join-String', 'Test-Json', 'ConvertFrom-Markdown', 'Show-Markdown', 'Get-MarkdownOption',
  'Set-MarkdownOption', 'Get-Uptime', 'Remove-Alias', 'Remove-Service', 'Get-ExperimentalFeature',
  'Enable-ExperimentalFeature', 'Disable-ExperimentalFeature', 'Get-PSSubsystem'
)

# Parameters that exist in PowerShell 7 only, by cmdlet (a written name matches when it is a prefix of one of these, as
# PowerShell binds unique prefixes).
$sevenOnlyParameters = @{
  'ForEach-Object'    = @('Parallel', 'ThrottleLimit', 'TimeoutSeconds', 'AsJob', 'UseNewRunspace')
  'ConvertFrom-Json'  = @('AsHashtable', 'Depth', 'NoEnumerate', 'DateKind')
  'ConvertTo-Json'    = @('EnumsAsStrings', 'AsArray', 'EscapeHandling')
  'Join-Path'         = @('AdditionalChildPath')
  'Invoke-WebRequest' = @('SkipHttpErrorCheck', 'SkipCertificateCheck', 'StatusCodeVariable', 'Authentication')
  'Invoke-RestMethod' = @('SkipHttpErrorCheck', 'SkipCertificateCheck', 'StatusCodeVariable', 'Authentication', 'ResponseHeadersVariable')
  'Get-Content'       = @('AsByteStream')
  'Set-Content'       = @('AsByteStream')
  'Add-Content'       = @('AsByteStream')
  'Split-Path'        = @('LeafBase', 'Extension')
  'Get-Date'          = @('AsUTC', 'UnixTimeSeconds')
  'Sort-Object'       = @('Top', 'Bottom')
  'Select-String'     = @('Raw', 'NoEmphasis')
  'Test-Connection'   = @('TargetName', 'Ping', 'Traceroute', 'MtuSize', 'TcpPort', 'Repeat')
}

# The aliases Windows PowerShell 5.1 and PowerShell 7 share for the cmdlets above.
$aliases = @{
  '%' = 'ForEach-Object'; 'foreach' = 'ForEach-Object'; 'gc' = 'Get-Content'; 'cat' = 'Get-Content'; 'type' = 'Get-Content'
  'ac' = 'Add-Content'; 'iwr' = 'Invoke-WebRequest'; 'irm' = 'Invoke-RestMethod'; 'sort' = 'Sort-Object'; 'sls' = 'Select-String'
}

# Encoding names 5.1's -Encoding parameters reject (they take a FileSystemCmdletProviderEncoding there).
$sevenOnlyEncodings = @('utf8NoBOM', 'utf8BOM', 'ansi')

# Automatic variables that do not exist in 5.1 (there they are silently $null, so code reading them takes wrong turns).
$sevenOnlyVariables = @('PSStyle', 'IsWindows', 'IsLinux', 'IsMacOS', 'IsCoreCLR', 'PSNativeCommandArgumentPassing', 'PSNativeCommandUseErrorActionPreference')

# Static members of .NET (Core) that .NET Framework 4.x, under 5.1, does not have.
$sevenOnlyMembers = @('System.IO.Path::Join', 'System.IO.Path::GetRelativePath', 'System.IO.Path::TrimEndingDirectorySeparator', 'System.Convert::ToHexString', 'System.Convert::FromHexString', 'System.Math::Clamp', 'System.String::Create')

function Get-CommandKey([System.Management.Automation.Language.CommandAst] $command) {
  $name = $command.GetCommandName()
  if ($null -eq $name) { return $null }
  $name = $name.Substring($name.LastIndexOf('\') + 1)
  if ($aliases.ContainsKey($name)) { return $aliases[$name] }
  foreach ($known in @($sevenOnlyParameters.Keys) + $sevenOnlyCommands) {
    if ($known -eq $name) { return $known }
  }
  return $name
}

function Get-TypeKey([System.Management.Automation.Language.ExpressionAst] $expression) {
  if ($expression -isnot [System.Management.Automation.Language.TypeExpressionAst]) { return $null }
  $type = $expression.TypeName.GetReflectionType()
  if ($null -ne $type) { return $type.FullName }
  return $expression.TypeName.FullName
}

function Find-SevenOnly([string] $script) {
  $tokens = $null
  $errors = $null
  $ast = [System.Management.Automation.Language.Parser]::ParseInput($script, [ref]$tokens, [ref]$errors)
  $found = [System.Collections.Generic.List[object]]::new()
  $add = {
    param($rule, $node, $what)
    $found.Add([ordered]@{ rule = $rule; line = $node.Extent.StartLineNumber; text = $node.Extent.Text.Substring(0, [Math]::Min(120, $node.Extent.Text.Length)); what = $what })
  }
  foreach ($e in $errors) {
    $found.Add([ordered]@{ rule = 'parse-error'; line = $e.Extent.StartLineNumber; text = $e.Extent.Text; what = $e.ErrorId + ': ' + $e.Message })
  }
  foreach ($node in $ast.FindAll({ $true }, $true)) {
    switch ($node) {
      { $_ -is [System.Management.Automation.Language.TernaryExpressionAst] } { & $add 'ternary' $node '<condition> ? <if-true> : <if-false>' }
      { $_ -is [System.Management.Automation.Language.PipelineChainAst] } { & $add 'pipeline-chain' $node ($node.Operator.ToString()) }
      { $_ -is [System.Management.Automation.Language.BinaryExpressionAst] -and $_.Operator -eq 'QuestionQuestion' } { & $add 'null-coalescing' $node '??' }
      { $_ -is [System.Management.Automation.Language.AssignmentStatementAst] -and $_.Operator -eq 'QuestionQuestionEquals' } { & $add 'null-coalescing-assignment' $node '??=' }
      { $_ -is [System.Management.Automation.Language.MemberExpressionAst] -and $_.NullConditional } { & $add 'null-conditional-member' $node '?.' }
      { $_ -is [System.Management.Automation.Language.IndexExpressionAst] -and $_.NullConditional } { & $add 'null-conditional-index' $node '?[]' }
      { $_ -is [System.Management.Automation.Language.ScriptBlockAst] -and $null -ne $_.CleanBlock } { & $add 'clean-block' $_.CleanBlock 'clean { }' }
      { $_ -is [System.Management.Automation.Language.PipelineAst] -and $_.Background } { & $add 'background-operator' $node 'trailing &' }
      { $_ -is [System.Management.Automation.Language.ConstantExpressionAst] -and $_ -isnot [System.Management.Automation.Language.StringConstantExpressionAst] -and $_.Extent.Text -match '^(0b[01]|[0-9].*(u[ysl]?|y|s|n)([kmgtp]b)?$)' } { & $add 'number-literal' $node 'binary literal or u/y/s/n type suffix' }
      { $_ -is [System.Management.Automation.Language.VariableExpressionAst] -and $sevenOnlyVariables -contains $_.VariablePath.UserPath } { & $add 'variable' $node ('$' + $_.VariablePath.UserPath) }
      { $_ -is [System.Management.Automation.Language.MemberExpressionAst] -and $_.Static -and $_.Member -is [System.Management.Automation.Language.StringConstantExpressionAst] } {
        $key = (Get-TypeKey $_.Expression) + '::' + $_.Member.Value
        foreach ($m in $sevenOnlyMembers) { if ($m -eq $key) { & $add 'dotnet-member' $node $m } }
      }
      { $_ -is [System.Management.Automation.Language.CommandAst] } {
        $name = Get-CommandKey $_
        if ($sevenOnlyCommands -contains $name) { & $add 'command' $node $name }
        $elements = $_.CommandElements
        $positional = 0
        $named = 0
        for ($i = 1; $i -lt $elements.Count; $i++) {
          $element = $elements[$i]
          if ($element -isnot [System.Management.Automation.Language.CommandParameterAst]) { $positional++; continue }
          $written = $element.ParameterName
          if ($null -ne $name -and $sevenOnlyParameters.ContainsKey($name)) {
            foreach ($p in $sevenOnlyParameters[$name]) {
              if ($written.Length -gt 0 -and $p.StartsWith($written, [System.StringComparison]::OrdinalIgnoreCase)) { & $add 'parameter' $element ($name + ' -' + $p) }
            }
          }
          $argument = $element.Argument
          $takesValue = -not ($name -eq 'Join-Path' -and 'Resolve'.StartsWith($written, [System.StringComparison]::OrdinalIgnoreCase))
          if ($null -eq $argument -and $takesValue -and $i + 1 -lt $elements.Count -and $elements[$i + 1] -isnot [System.Management.Automation.Language.CommandParameterAst]) {
            $i++
            $argument = $elements[$i]
          }
          if ($name -eq 'Join-Path' -and ('Path'.StartsWith($written, [System.StringComparison]::OrdinalIgnoreCase) -or 'ChildPath'.StartsWith($written, [System.StringComparison]::OrdinalIgnoreCase))) { $named++ }
          if ($written.Length -ge 2 -and 'Encoding'.StartsWith($written, [System.StringComparison]::OrdinalIgnoreCase) -and $argument -is [System.Management.Automation.Language.StringConstantExpressionAst] -and $sevenOnlyEncodings -contains $argument.Value) {
            & $add 'encoding-name' $element ('-Encoding ' + $argument.Value)
          }
        }
        if ($name -eq 'Join-Path' -and $positional + $named -gt 2) { & $add 'join-path-parts' $node 'Join-Path with more than two parts' }
      }
    }
  }
  return , $found.ToArray()
}

$scripts = @(Get-Content -Raw -LiteralPath $env:LB_PS51_INPUT | ConvertFrom-Json)
$results = [System.Collections.Generic.List[object]]::new()
foreach ($s in $scripts) { $results.Add((Find-SevenOnly $s)) }
ConvertTo-Json -Depth 5 -Compress -InputObject ([ordered]@{ rules = $rules; results = $results.ToArray() })
