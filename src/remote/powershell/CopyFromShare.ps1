# Operation "copyFromShare": the target copies an installer from a UNC share into its staging folder.
# The target authenticates to the file server with its own session's identity: under Kerberos without
# delegation that is not the operator (the double hop), so this works only when the share admits the
# target's computer account, or with CredSSP or constrained delegation (see docs/winrm.md).
# Windows PowerShell 5.1 compatible.

function Invoke-CopyFromShareOperation {
    param([Parameter(Mandatory = $true)][System.Collections.IDictionary]$Arguments)
    $sourcePath = [string](Get-OperationArgument -Arguments $Arguments -Name 'sourcePath')
    $stagingDir = [string](Get-OperationArgument -Arguments $Arguments -Name 'stagingDir')
    $fileName = [string](Get-OperationArgument -Arguments $Arguments -Name 'fileName')
    Assert-PlainFileName -Name $fileName -What 'installer file name'

    if (-not (Test-Path -LiteralPath $sourcePath -PathType Leaf)) {
        throw (New-OperationException -Type 'FileNotFound' -Message ('the host cannot read "{0}" (missing, or the share does not admit the account the session runs as)' -f $sourcePath))
    }
    if (-not (Test-Path -LiteralPath $stagingDir -PathType Container)) {
        $null = New-Item -ItemType Directory -Path $stagingDir -Force
    }
    $path = Join-Path -Path $stagingDir -ChildPath $fileName
    # Copied under another name first, so that an interrupted copy never sits under the installer's name.
    $partialPath = $path + '.partial'
    Copy-Item -LiteralPath $sourcePath -Destination $partialPath -Force
    Move-Item -LiteralPath $partialPath -Destination $path -Force
    return [ordered]@{ path = $path; sizeBytes = [long](Get-Item -LiteralPath $path).Length }
}
