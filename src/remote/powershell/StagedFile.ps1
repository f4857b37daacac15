# Operation "stagedFile": whether an installer is already in the staging folder, its size, and its
# SHA-256, so the orchestrator copies only what is missing or different and verifies what it copied.
# Windows PowerShell 5.1 compatible.

function Invoke-StagedFileOperation {
    param([Parameter(Mandatory = $true)][System.Collections.IDictionary]$Arguments)
    $stagingDir = [string](Get-OperationArgument -Arguments $Arguments -Name 'stagingDir')
    $fileName = [string](Get-OperationArgument -Arguments $Arguments -Name 'fileName')
    $expectedSize = Get-OperationArgument -Arguments $Arguments -Name 'expectedSizeBytes' -Optional
    $createDirectory = [bool](Get-OperationArgument -Arguments $Arguments -Name 'createDirectory' -Optional -Default $false)
    Assert-PlainFileName -Name $fileName -What 'installer file name'

    # Before anything is copied into it: created protected, or checked when it is there.
    if ($createDirectory) { $null = Assert-StagingFolderSafe -Path $stagingDir }
    $path = Join-Path -Path $stagingDir -ChildPath $fileName
    $result = [ordered]@{ path = $path; exists = $false; sizeBytes = $null; sha256 = $null }
    if (-not (Test-Path -LiteralPath $path -PathType Leaf)) { return $result }
    $file = Get-Item -LiteralPath $path
    $result['exists'] = $true
    $result['sizeBytes'] = [long]$file.Length
    # Hashing a multi-gigabyte file takes a while; a copy of the wrong size cannot match anyway.
    if ($null -eq $expectedSize -or [long]$expectedSize -eq [long]$file.Length) {
        $result['sha256'] = (Get-FileHash -LiteralPath $path -Algorithm SHA256).Hash.ToLowerInvariant()
    }
    return $result
}
