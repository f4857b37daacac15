# Operation "copyFromShare": the target copies an installer from a UNC share into its staging folder.
# A remoting session holds the operator's logon but not credentials it may pass on: under plain
# Kerberos the target cannot authenticate to the file server (the double hop). This works with CredSSP,
# or with Kerberos constrained delegation from the targets to the file server's cifs service
# (see docs/winrm.md). Windows PowerShell 5.1 compatible.

function Invoke-CopyFromShareOperation {
    param([Parameter(Mandatory = $true)][System.Collections.IDictionary]$Arguments)
    $sourcePath = [string](Get-OperationArgument -Arguments $Arguments -Name 'sourcePath')
    $stagingDir = [string](Get-OperationArgument -Arguments $Arguments -Name 'stagingDir')
    $fileName = [string](Get-OperationArgument -Arguments $Arguments -Name 'fileName')
    Assert-PlainFileName -Name $fileName -What 'installer file name'

    if (-not (Test-Path -LiteralPath $sourcePath -PathType Leaf)) {
        throw (New-OperationException -Type 'FileNotFound' -Message ('the host cannot read "{0}": the file is missing, or the session cannot authenticate to the share (the double hop: use staging_source "copy", CredSSP or Kerberos delegation)' -f $sourcePath))
    }
    $null = Assert-StagingFolderSafe -Path $stagingDir
    $path = Join-Path -Path $stagingDir -ChildPath $fileName
    # Copied under another name first, so that an interrupted copy never sits under the installer's name.
    $partialPath = $path + '.partial'
    Copy-Item -LiteralPath $sourcePath -Destination $partialPath -Force
    Move-Item -LiteralPath $partialPath -Destination $path -Force
    return [ordered]@{ path = $path; sizeBytes = [long](Get-Item -LiteralPath $path).Length }
}
