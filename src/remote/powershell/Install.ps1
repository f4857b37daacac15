# Operation "install": starts an installer on the host (or attaches to the execution already started
# under the same executionId): its wrapper extracts the package with /x: into <staging>\extract\<id>,
# runs setup.exe from there and removes the folder. It waits up to this call's waitSeconds, stops the process tree once the
# execution's timeout has passed since it started, and reports the exit code with the tail of setup's
# Summary.txt. The orchestrator calls it again while the outcome is "running".
# Windows PowerShell 5.1 compatible.

function Invoke-InstallOperation {
    param([Parameter(Mandatory = $true)][System.Collections.IDictionary]$Arguments)
    $stagingDir = [string](Get-OperationArgument -Arguments $Arguments -Name 'stagingDir')
    $executionId = [string](Get-OperationArgument -Arguments $Arguments -Name 'executionId')
    $installerPath = [string](Get-OperationArgument -Arguments $Arguments -Name 'installerPath')
    $parameters = [string](Get-OperationArgument -Arguments $Arguments -Name 'parameters' -Optional -Default '')
    $timeoutSeconds = [double](Get-OperationArgument -Arguments $Arguments -Name 'timeoutSeconds')
    $waitSeconds = [double](Get-OperationArgument -Arguments $Arguments -Name 'waitSeconds' -Optional -Default $timeoutSeconds)
    $setupLogVersion = [string](Get-OperationArgument -Arguments $Arguments -Name 'setupLogVersion' -Optional -Default '')
    $timeoutAction = [string](Get-OperationArgument -Arguments $Arguments -Name 'timeoutAction' -Optional -Default 'kill_when_safe')
    $expectedSha256 = [string](Get-OperationArgument -Arguments $Arguments -Name 'sha256' -Optional -Default '')
    $startMethod = [string](Get-OperationArgument -Arguments $Arguments -Name 'startMethod' -Optional -Default 'scheduled_task')
    if (@('scheduled_task', 'wmi') -notcontains $startMethod) {
        throw (New-OperationException -Type 'InvalidArguments' -Message ('startMethod "{0}" must be scheduled_task or wmi' -f $startMethod))
    }
    if (@('kill_when_safe', 'leave_running', 'kill') -notcontains $timeoutAction) {
        throw (New-OperationException -Type 'InvalidArguments' -Message ('timeoutAction "{0}" must be kill_when_safe, leave_running or kill' -f $timeoutAction))
    }

    $recordPath = Get-ExecutionRecordPath -StagingDir $stagingDir -ExecutionId $executionId
    $record = Read-ExecutionRecord -Path $recordPath
    # A wrapper that died while extracting never started setup: its leftovers go, and it starts again.
    if ($null -ne $record -and (Clear-ExecutionNeverStarted -RecordPath $recordPath -Record $record)) { $record = $null }
    $attached = $true
    $staleRemoved = @()
    $extractDir = Get-ExtractionFolderPath -StagingDir $stagingDir -ExecutionId $executionId
    if ($null -eq $record) {
        if (-not (Test-Path -LiteralPath $installerPath -PathType Leaf)) {
            throw (New-OperationException -Type 'FileNotFound' -Message ('the installer "{0}" is not on the host' -f $installerPath))
        }
        if (-not [string]::IsNullOrEmpty($expectedSha256)) {
            # Checked again just before the start: a file swapped since staging is never run.
            $actualSha256 = (Get-FileHash -LiteralPath $installerPath -Algorithm SHA256).Hash.ToLowerInvariant()
            if ($actualSha256 -ne $expectedSha256.ToLowerInvariant()) {
                throw (New-OperationException -Type 'StagedFileChanged' -Message ('the staged installer "{0}" has SHA-256 {1}, expected {2}: it changed after staging and was not started' -f $installerPath, $actualSha256, $expectedSha256))
            }
        }
        # The wrapper script and the extracted setup files are written into the staging folder: it must
        # still be one that only SYSTEM and Administrators can change.
        $null = Assert-StagingFolderSafe -Path $stagingDir
        $staleRemoved = Clear-StaleExtractionFolder -StagingDir $stagingDir
        $executionDir = [System.IO.Path]::GetDirectoryName($recordPath)
        if (-not (Test-Path -LiteralPath $executionDir -PathType Container)) { $null = New-Item -ItemType Directory -Path $executionDir -Force }
        $launchToken = [System.Guid]::NewGuid().ToString('N')
        $record = Start-InstallerExecution -RecordPath $recordPath -ExecutionId $executionId -InstallerPath $installerPath -Parameters $parameters -LaunchToken $launchToken -ExtractDir $extractDir -StartMethod $startMethod
        # Another operation may have won the race for this id; then this call attached to its execution.
        $attached = ([string]$record['launchToken'] -ne $launchToken)
    }

    $waited = Wait-InstallerExecution -RecordPath $recordPath -TimeoutSeconds $timeoutSeconds -WaitSeconds $waitSeconds -TimeoutAction $timeoutAction
    $record = $waited['record']
    Remove-FinishedTask -Record $record
    $startedAt = ConvertFrom-UtcTimestamp -Timestamp ([string]$record['startedAt'])
    $endedAt = (Get-Date).ToUniversalTime()
    if ($null -ne $record['finishedAt']) { $endedAt = ConvertFrom-UtcTimestamp -Timestamp ([string]$record['finishedAt']) }
    $result = [ordered]@{
        executionId = $executionId
        attached    = $attached
        outcome     = $waited['outcome']
        exitCode    = $record['exitCode']
        startedAt   = $record['startedAt']
        finishedAt  = $record['finishedAt']
        durationMs  = [long][Math]::Max(0, ($endedAt - $startedAt).TotalMilliseconds)
        summaryPath = $null
        summaryTail = $null
        summaryHead = $null
        leftRunningReason = $null
        extractDir  = $extractDir
        staleExtractionsRemoved = @($staleRemoved)
    }
    if ($waited['outcome'] -eq 'left_running') { $result['leftRunningReason'] = $waited['reason'] }
    if ($waited['outcome'] -eq 'finished' -and $null -eq $record['exitCode']) {
        if ($record.Contains('phase') -and $record['phase'] -eq 'extracting') {
            # Setup never started: the package did not extract, or its wrapper stopped while it did.
            $why = 'its wrapper stopped while extracting it'
            if ($null -ne $record['error']) { $why = [string]$record['error'] }
            throw (New-OperationException -Type 'InstallerStartFailed' -Message ('the installer "{0}" could not be started: {1}; setup.exe never ran' -f $installerPath, $why))
        }
        if ($null -ne $record['error']) {
            throw (New-OperationException -Type 'InstallerStartFailed' -Message ('the installer "{0}" could not be started: {1}' -f $installerPath, $record['error']))
        }
        throw (New-OperationException -Type 'ExecutionLost' -Message ('the wrapper of execution {0} ended without recording an exit code (was the host restarted?); check the installed build' -f $executionId))
    }
    if ($waited['outcome'] -eq 'finished') { $result['outcome'] = 'exited' }
    if ($waited['outcome'] -ne 'running' -and $waited['outcome'] -ne 'left_running') {
        # A little slack for clock resolution: setup's log is written after the execution started.
        # The summary only helps the operator read the outcome; failing to read it must not hide the exit code.
        try {
            $summary = Get-SetupSummary -MajorVersion $setupLogVersion -NotBeforeUtc $startedAt.AddSeconds(-5)
        } catch {
            $summary = $null
        }
        if ($null -ne $summary) {
            $result['summaryPath'] = $summary['path']
            $result['summaryTail'] = $summary['tail']
            $result['summaryHead'] = $summary['head']
        }
    }
    return $result
}
