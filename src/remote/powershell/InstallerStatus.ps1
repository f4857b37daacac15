# Operation "installerStatus": what became of an execution started earlier, possibly by an
# orchestrator that has since died: not_started, running, or finished with its exit code.
# Windows PowerShell 5.1 compatible.

function Invoke-InstallerStatusOperation {
    param([Parameter(Mandatory = $true)][System.Collections.IDictionary]$Arguments)
    $stagingDir = [string](Get-OperationArgument -Arguments $Arguments -Name 'stagingDir')
    $executionId = [string](Get-OperationArgument -Arguments $Arguments -Name 'executionId')
    $recordPath = Get-ExecutionRecordPath -StagingDir $stagingDir -ExecutionId $executionId
    $record = Read-ExecutionRecord -Path $recordPath
    # What a crash left: a wrapper that died while extracting never started setup (not_started), and
    # the extraction folders of executions that are over.
    if ($null -ne $record -and (Clear-ExecutionNeverStarted -RecordPath $recordPath -Record $record)) { $record = $null }
    $null = Clear-StaleExtractionFolder -StagingDir $stagingDir
    if ($null -eq $record) {
        return [ordered]@{ state = 'not_started'; startedAt = $null; finishedAt = $null; exitCode = $null; timedOut = $false; abandoned = $false }
    }
    if ($record['state'] -ne 'finished' -and -not (Test-ExecutionAlive -Record $record)) {
        # Settled once here, so that every later question gets the same answer.
        $record = Read-ExecutionRecord -Path $recordPath
        if ($record['state'] -ne 'finished') { $record = Complete-ExecutionRecord -RecordPath $recordPath -Record $record }
    }
    Remove-FinishedTask -Record $record
    return [ordered]@{
        state      = $record['state']
        startedAt  = $record['startedAt']
        finishedAt = $record['finishedAt']
        exitCode   = $record['exitCode']
        timedOut   = [bool]$record['timedOut']
        abandoned  = [bool]$record['abandoned']
    }
}
