# Crash-safe installer executions, shared by the "install" and "installerStatus" operations.
#
# Each execution has a record, <staging>\executions\<executionId>.json. A detached wrapper process
# creates it (exclusively: a second wrapper for the same id finds it and leaves), starts the installer,
# waits for it and writes the exit code. Because the wrapper does not belong to the remoting session,
# the installer finishes and its exit code is recorded even when the session or the orchestrator dies;
# a later operation with the same executionId attaches to the record instead of starting again.
# Windows PowerShell 5.1 compatible; starting detached and listing child processes are surfaces.

function Assert-ExecutionId {
    param([Parameter(Mandatory = $true)][string]$ExecutionId)
    if ($ExecutionId -notmatch '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$') {
        throw (New-OperationException -Type 'InvalidArguments' -Message ('executionId "{0}" must be letters, digits, ".", "_" or "-"' -f $ExecutionId))
    }
}

function Get-ExecutionRecordPath {
    param(
        [Parameter(Mandatory = $true)][string]$StagingDir,
        [Parameter(Mandatory = $true)][string]$ExecutionId
    )
    Assert-ExecutionId -ExecutionId $ExecutionId
    return (Join-Path -Path (Join-Path -Path $StagingDir -ChildPath 'executions') -ChildPath ($ExecutionId + '.json'))
}

function Invoke-WithFileRetry {
    # Readers and the writer's replace can collide for a moment on Windows (sharing violations).
    param([Parameter(Mandatory = $true)][scriptblock]$Action)
    $attempt = 0
    while ($true) {
        try {
            return (& $Action)
        } catch [System.IO.IOException], [System.UnauthorizedAccessException] {
            $attempt++
            if ($attempt -ge 20) { throw }
            Start-Sleep -Milliseconds 100
        }
    }
}

function Read-ExecutionRecord {
    # The record as a dictionary, or $null when there is none.
    param([Parameter(Mandatory = $true)][string]$Path)
    $attempt = 0
    while ($true) {
        if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) { return $null }
        $text = Invoke-WithFileRetry -Action { [System.IO.File]::ReadAllText($Path) }
        try {
            return (ConvertFrom-OperationJson -Json $text)
        } catch {
            # The wrapper creates the file and then writes it; an empty or half-written read is retried.
            $attempt++
            if ($attempt -ge 50) {
                throw (New-OperationException -Type 'CorruptExecutionRecord' -Message ('the execution record "{0}" is not valid JSON' -f $Path))
            }
            Start-Sleep -Milliseconds 100
        }
    }
}

function New-ExecutionRecord {
    # Creates the record only if there is none: $true when this caller now owns the execution.
    param(
        [Parameter(Mandatory = $true)][string]$Path,
        [Parameter(Mandatory = $true)][System.Collections.IDictionary]$Record
    )
    $bytes = [System.Text.Encoding]::ASCII.GetBytes((ConvertTo-OperationJson -Value $Record))
    try {
        $stream = [System.IO.File]::Open($Path, [System.IO.FileMode]::CreateNew, [System.IO.FileAccess]::Write, [System.IO.FileShare]::Read)
    } catch [System.IO.IOException] {
        if (Test-Path -LiteralPath $Path) { return $false }
        throw
    }
    try {
        $stream.Write($bytes, 0, $bytes.Length)
    } finally {
        $stream.Dispose()
    }
    return $true
}

function Write-ExecutionRecord {
    # Replaces the record whole, so a reader sees the old or the new version and never half of one.
    param(
        [Parameter(Mandatory = $true)][string]$Path,
        [Parameter(Mandatory = $true)][System.Collections.IDictionary]$Record
    )
    $temporaryPath = $Path + '.' + [System.Guid]::NewGuid().ToString('N') + '.tmp'
    [System.IO.File]::WriteAllText($temporaryPath, (ConvertTo-OperationJson -Value $Record), [System.Text.Encoding]::ASCII)
    # [NullString]: a plain $null would reach .NET as "" (no backup file is wanted).
    Invoke-WithFileRetry -Action { [System.IO.File]::Replace($temporaryPath, $Path, [NullString]::Value) }
}

function Get-ProcessStartTimeUtc {
    # $null when no such process runs; the start time tells a process from a later one with a reused id.
    param([Parameter(Mandatory = $true)][int]$ProcessId)
    $process = Get-Process -Id $ProcessId -ErrorAction SilentlyContinue
    if ($null -eq $process) { return $null }
    try {
        return $process.StartTime.ToUniversalTime()
    } catch {
        # Another account's process: it runs, its start time is not ours to read.
        return [datetime]::MinValue
    }
}

function Test-ExecutionAlive {
    # Whether the record's wrapper process still runs (and is the same process, not a reused id).
    param([Parameter(Mandatory = $true)][System.Collections.IDictionary]$Record)
    if ($null -eq $Record['wrapperPid']) { return $false }
    $startTime = Get-ProcessStartTimeUtc -ProcessId ([int]$Record['wrapperPid'])
    if ($null -eq $startTime -or (Test-ProcessExited -ProcessId ([int]$Record['wrapperPid']))) { return $false }
    if ($startTime -eq [datetime]::MinValue -or $null -eq $Record['wrapperStartedAt']) { return $true }
    $recorded = ConvertFrom-UtcTimestamp -Timestamp ([string]$Record['wrapperStartedAt'])
    return ([Math]::Abs(($startTime - $recorded).TotalSeconds) -lt 2)
}

function Get-ProcessTreeId {
    # The root and all its descendants, parents before children. Collected before anything is stopped:
    # once a parent is gone its children can no longer be found through it on every OS.
    param([Parameter(Mandatory = $true)][int]$RootId)
    $ids = New-Object -TypeName 'System.Collections.Generic.List[int]'
    $pending = New-Object -TypeName 'System.Collections.Generic.Queue[int]'
    $pending.Enqueue($RootId)
    while ($pending.Count -gt 0) {
        $id = $pending.Dequeue()
        if ($ids.Contains($id)) { continue }
        $ids.Add($id)
        $parentStart = Get-ProcessStartTimeUtc -ProcessId $id
        foreach ($childId in @(Get-ChildProcessId -ProcessId $id)) {
            # A "child" older than its parent only inherited a reused parent id.
            $childStart = Get-ProcessStartTimeUtc -ProcessId $childId
            if ($null -eq $childStart) { continue }
            # A start time that cannot be read ([datetime]::MinValue) proves nothing either way, and
            # MinValue.AddSeconds(-1) would throw: such a child is taken as the parent's.
            $unknown = ($null -eq $parentStart -or $parentStart -eq [datetime]::MinValue -or $childStart -eq [datetime]::MinValue)
            if ($unknown -or $childStart -ge $parentStart.AddSeconds(-1)) { $pending.Enqueue($childId) }
        }
    }
    return , $ids.ToArray()
}

function Stop-ProcessTree {
    # Stops a process and every descendant, and waits (up to 15 s) until they are gone.
    param([Parameter(Mandatory = $true)][int]$RootId)
    $ids = Get-ProcessTreeId -RootId $RootId
    foreach ($id in $ids) { Stop-Process -Id $id -Force -ErrorAction SilentlyContinue }
    # A child started between the listing and the stop is caught by a second pass.
    foreach ($id in $ids) {
        foreach ($lateChild in @(Get-ChildProcessId -ProcessId $id)) {
            if (-not $ids.Contains($lateChild)) { Stop-Process -Id $lateChild -Force -ErrorAction SilentlyContinue }
        }
    }
    $deadline = (Get-Date).AddSeconds(15)
    foreach ($id in $ids) {
        while ($null -ne (Get-Process -Id $id -ErrorAction SilentlyContinue) -and (Get-Date) -lt $deadline) {
            if (Test-ProcessExited -ProcessId $id) { break }
            Start-Sleep -Milliseconds 100
        }
    }
    return , $ids
}

function Test-ProcessExited {
    # On Linux a killed process stays listed as a zombie until its parent reaps it; it no longer runs.
    param([Parameter(Mandatory = $true)][int]$ProcessId)
    $statPath = '/proc/{0}/stat' -f $ProcessId
    if (-not (Test-Path -LiteralPath $statPath)) { return $false }
    try {
        $stat = [System.IO.File]::ReadAllText($statPath)
    } catch {
        return $true
    }
    $afterName = $stat.Substring($stat.LastIndexOf(')') + 1).Trim()
    return ($afterName.StartsWith('Z') -or $afterName.StartsWith('X'))
}

function Get-PowerShellExecutablePath {
    # The wrapper runs under the same PowerShell as the session (powershell.exe for Windows PowerShell).
    $onWindows = [System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT
    if ($PSVersionTable.PSEdition -ne 'Core') { return (Join-Path -Path $PSHOME -ChildPath 'powershell.exe') }
    if ($onWindows) { return (Join-Path -Path $PSHOME -ChildPath 'pwsh.exe') }
    return (Join-Path -Path $PSHOME -ChildPath 'pwsh')
}

function Get-InstallerWrapperScript {
    # The wrapper's code is these functions' own definitions, so it cannot drift from what is tested.
    $names = @(
        'New-OperationException', 'Add-OperationJsonString', 'Add-OperationJsonNumber', 'Add-OperationJsonValue',
        'ConvertTo-OperationJson', 'ConvertTo-UtcTimestamp', 'Read-OperationJsonToken', 'ConvertFrom-OperationJsonString',
        'Read-OperationJsonValue', 'ConvertFrom-OperationJson', 'ConvertFrom-OperationArgument', 'Get-OperationArgument',
        'Invoke-WithFileRetry', 'New-ExecutionRecord', 'Write-ExecutionRecord', 'Invoke-PackageExtraction', 'Remove-ExtractionFolder',
        'Start-InstallerProcess', 'Invoke-InstallerWrapper'
    )
    $builder = New-Object -TypeName System.Text.StringBuilder
    foreach ($name in $names) {
        $definition = (Get-Command -Name $name -CommandType Function).Definition
        [void]$builder.AppendLine('function ' + $name + ' {').AppendLine($definition).AppendLine('}')
    }
    return $builder.ToString()
}

function Invoke-InstallerWrapper {
    # Runs in the detached process: owns the record, extracts the package into its own folder under the
    # staging root (setup /x:), runs setup.exe from there, records how it ended and removes the folder,
    # after a failure too.
    param([Parameter(Mandatory = $true)][string]$EncodedArguments)
    Set-StrictMode -Version 2.0
    $ErrorActionPreference = 'Stop'
    $arguments = ConvertFrom-OperationArgument -EncodedArguments $EncodedArguments
    $recordPath = [string](Get-OperationArgument -Arguments $arguments -Name 'recordPath')
    $installerPath = [string](Get-OperationArgument -Arguments $arguments -Name 'installerPath')
    $parameters = [string](Get-OperationArgument -Arguments $arguments -Name 'parameters' -Optional -Default '')
    $extractDir = [string](Get-OperationArgument -Arguments $arguments -Name 'extractDir')
    $record = [ordered]@{
        executionId      = [string](Get-OperationArgument -Arguments $arguments -Name 'executionId')
        launchToken      = [string](Get-OperationArgument -Arguments $arguments -Name 'launchToken')
        state            = 'running'
        phase            = 'extracting'
        installerPath    = $installerPath
        parameters       = $parameters
        extractDir       = $extractDir
        startMethod      = [string](Get-OperationArgument -Arguments $arguments -Name 'startMethod' -Optional -Default 'wmi')
        startedAt        = ConvertTo-UtcTimestamp -Time (Get-Date)
        wrapperPid       = $PID
        wrapperStartedAt = ConvertTo-UtcTimestamp -Time (Get-Process -Id $PID).StartTime
        installerPid     = $null
        exitCode         = $null
        finishedAt       = $null
        timedOut         = $false
        abandoned        = $false
        error            = $null
    }
    if (-not (New-ExecutionRecord -Path $recordPath -Record $record)) { return }
    try {
        # A folder left by an earlier attempt of this execution is not trusted: extracted afresh.
        Remove-ExtractionFolder -Path $extractDir
        $extractExit = Invoke-PackageExtraction -PackagePath $installerPath -Destination $extractDir
        $setupPath = Join-Path -Path $extractDir -ChildPath 'setup.exe'
        if ($extractExit -ne 0) { throw ('extracting the package with /x: exited {0}' -f $extractExit) }
        if (-not (Test-Path -LiteralPath $setupPath -PathType Leaf)) { throw ('extracting the package with /x: left no setup.exe in "{0}"' -f $extractDir) }
        $record['phase'] = 'setup'
        Write-ExecutionRecord -Path $recordPath -Record $record
        $process = Start-InstallerProcess -FilePath $setupPath -ArgumentList $parameters -WorkingDirectory $extractDir -ExecutionId $record['executionId'] -PackagePath $installerPath
        $record['installerPid'] = $process.Id
        Write-ExecutionRecord -Path $recordPath -Record $record
        $process.WaitForExit()
        $record['exitCode'] = $process.ExitCode
    } catch {
        $record['error'] = $_.Exception.GetBaseException().Message
    }
    try {
        Remove-ExtractionFolder -Path $extractDir
    } catch {
        # Left for the next operation's sweep; the outcome of setup stands.
        $null = $_
    }
    $record['state'] = 'finished'
    $record['finishedAt'] = ConvertTo-UtcTimestamp -Time (Get-Date)
    Write-ExecutionRecord -Path $recordPath -Record $record
}

function Remove-ExtractionFolder {
    # Removes an extraction folder; files setup still holds for a moment are retried.
    param([Parameter(Mandatory = $true)][string]$Path)
    $attempt = 0
    while (Test-Path -LiteralPath $Path) {
        try {
            Remove-Item -LiteralPath $Path -Recurse -Force -ErrorAction Stop
        } catch {
            $attempt++
            if ($attempt -ge 20) { throw }
            Start-Sleep -Milliseconds 250
        }
    }
}

function Get-ExtractionRoot {
    param([Parameter(Mandatory = $true)][string]$StagingDir)
    return (Join-Path -Path $StagingDir -ChildPath 'extract')
}

function Get-ExtractionFolderPath {
    param([Parameter(Mandatory = $true)][string]$StagingDir, [Parameter(Mandatory = $true)][string]$ExecutionId)
    Assert-ExecutionId -ExecutionId $ExecutionId
    return (Join-Path -Path (Get-ExtractionRoot -StagingDir $StagingDir) -ChildPath $ExecutionId)
}

function Test-ExecutionNeverStarted {
    # A wrapper that died while it extracted (a host restart, a stopped process) never started setup:
    # nothing changed on the instances, so the execution may be started again.
    param([Parameter(Mandatory = $true)][System.Collections.IDictionary]$Record)
    return ($Record['state'] -ne 'finished' -and $Record.Contains('phase') -and $Record['phase'] -eq 'extracting' -and $null -eq $Record['installerPid'] -and -not (Test-ExecutionAlive -Record $Record))
}

function Clear-ExecutionNeverStarted {
    # Removes what such a wrapper left (its record and extraction folder); $true when it did.
    param([Parameter(Mandatory = $true)][string]$RecordPath, [Parameter(Mandatory = $true)][System.Collections.IDictionary]$Record)
    if (-not (Test-ExecutionNeverStarted -Record $Record)) { return $false }
    if (-not [string]::IsNullOrEmpty([string]$Record['extractDir'])) { Remove-ExtractionFolder -Path ([string]$Record['extractDir']) }
    Remove-Item -LiteralPath $RecordPath -Force -ErrorAction SilentlyContinue
    return $true
}

function Clear-StaleExtractionFolder {
    # Every extraction folder whose execution is over (finished, never started, or unknown) is removed:
    # what a crash, a restart or a stopped wrapper left behind. Returns the folders removed.
    param([Parameter(Mandatory = $true)][string]$StagingDir)
    $root = Get-ExtractionRoot -StagingDir $StagingDir
    if (-not (Test-Path -LiteralPath $root -PathType Container)) { return , @() }
    $removed = New-Object -TypeName 'System.Collections.Generic.List[string]'
    foreach ($folder in @(Get-ChildItem -LiteralPath $root -Directory -ErrorAction SilentlyContinue)) {
        $record = $null
        if ($folder.Name -match '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$') {
            $record = Read-ExecutionRecord -Path (Get-ExecutionRecordPath -StagingDir $StagingDir -ExecutionId $folder.Name)
        }
        $over = ($null -eq $record -or $record['state'] -eq 'finished' -or (Test-ExecutionNeverStarted -Record $record))
        if (-not $over) { continue }
        Remove-ExtractionFolder -Path $folder.FullName
        $removed.Add($folder.FullName)
    }
    return , $removed.ToArray()
}

function Get-OneShotTaskName {
    param([Parameter(Mandatory = $true)][string]$ExecutionId)
    Assert-ExecutionId -ExecutionId $ExecutionId
    return ('AutoDBAudit-' + $ExecutionId)
}

function Start-InstallerExecution {
    # Launches the detached wrapper and returns the record it created (possibly another launch's,
    # when two operations raced for the same executionId). StartMethod scheduled_task (the default)
    # starts it as a one-shot scheduled task running as SYSTEM; wmi through Win32_Process.Create.
    param(
        [Parameter(Mandatory = $true)][string]$RecordPath,
        [Parameter(Mandatory = $true)][string]$ExecutionId,
        [Parameter(Mandatory = $true)][string]$InstallerPath,
        [Parameter(Mandatory = $true)][AllowEmptyString()][string]$Parameters,
        [Parameter(Mandatory = $true)][string]$LaunchToken,
        [Parameter(Mandatory = $true)][string]$ExtractDir,
        [ValidateSet('scheduled_task', 'wmi')][string]$StartMethod = 'scheduled_task',
        [double]$StartTimeoutSeconds = 60
    )
    $executionDir = [System.IO.Path]::GetDirectoryName($RecordPath)
    # In the staging folder, whose ACL lets only SYSTEM and Administrators change it: the task runs it as SYSTEM.
    $wrapperPath = Join-Path -Path $executionDir -ChildPath ($ExecutionId + '.wrapper.ps1')
    [System.IO.File]::WriteAllText($wrapperPath, (Get-InstallerWrapperScript), [System.Text.Encoding]::ASCII)
    $wrapperArguments = [ordered]@{
        recordPath    = $RecordPath
        executionId   = $ExecutionId
        launchToken   = $LaunchToken
        installerPath = $InstallerPath
        parameters    = $Parameters
        extractDir    = $ExtractDir
        startMethod   = $StartMethod
    }
    $argumentsBase64 = [System.Convert]::ToBase64String([System.Text.Encoding]::UTF8.GetBytes((ConvertTo-OperationJson -Value $wrapperArguments)))
    $pathBase64 = [System.Convert]::ToBase64String([System.Text.Encoding]::UTF8.GetBytes($wrapperPath))
    # Only base64 text is placed inside the loader's quotes: no value can end a literal and become code.
    $loader = "`$ErrorActionPreference = 'Stop'`n" +
    "`$wrapperPath = [System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String('" + $pathBase64 + "'))`n" +
    ". ([scriptblock]::Create([System.IO.File]::ReadAllText(`$wrapperPath)))`n" +
    "Invoke-InstallerWrapper -EncodedArguments '" + $argumentsBase64 + "'`n"
    $encodedLoader = [System.Convert]::ToBase64String([System.Text.Encoding]::Unicode.GetBytes($loader))
    $command = Get-PowerShellExecutablePath
    $commandArguments = '-NoLogo -NoProfile -NonInteractive -EncodedCommand ' + $encodedLoader
    $wrapperPid = $null
    $taskName = $null
    if ($StartMethod -eq 'wmi') {
        try {
            $wrapperPid = Start-DetachedProcess -FilePath $command -ArgumentList $commandArguments -WorkingDirectory $executionDir
        } catch {
            throw (New-OperationException -Type 'InstallerStartFailed' -Message ('the installer wrapper for {0} could not be started through WMI: {1}' -f $InstallerPath, $_.Exception.GetBaseException().Message))
        }
        if ($null -eq $wrapperPid -or [int]$wrapperPid -le 0) {
            throw (New-OperationException -Type 'InstallerStartFailed' -Message ('the installer wrapper for {0} could not be started' -f $InstallerPath))
        }
    } else {
        $taskName = Get-OneShotTaskName -ExecutionId $ExecutionId
        try {
            Start-OneShotTask -TaskName $taskName -FilePath $command -ArgumentList $commandArguments -WorkingDirectory $executionDir
        } catch {
            throw (New-OperationException -Type 'InstallerStartFailed' -Message ('the scheduled task {0} that starts {1} could not be registered or started: {2}' -f $taskName, $InstallerPath, $_.Exception.GetBaseException().Message))
        }
    }

    $deadline = (Get-Date).AddSeconds($StartTimeoutSeconds)
    while ($true) {
        $record = Read-ExecutionRecord -Path $RecordPath
        if ($null -ne $record) { return $record }
        $ended = $null
        if ($null -ne $wrapperPid) {
            if ($null -eq (Get-ProcessStartTimeUtc -ProcessId $wrapperPid) -or (Test-ProcessExited -ProcessId $wrapperPid)) {
                $ended = ('the installer wrapper (process {0}) exited without starting {1}' -f $wrapperPid, $InstallerPath)
            }
        } else {
            $task = Get-OneShotTaskState -TaskName $taskName
            $ended = Get-OneShotTaskFailure -Task $task -TaskName $taskName -InstallerPath $InstallerPath
        }
        if ($null -ne $ended) {
            # It may have written the record just before exiting.
            $record = Read-ExecutionRecord -Path $RecordPath
            if ($null -ne $record) { return $record }
            if ($null -ne $taskName) { Remove-OneShotTask -TaskName $taskName }
            throw (New-OperationException -Type 'InstallerStartFailed' -Message $ended)
        }
        if ((Get-Date) -ge $deadline) {
            $by = 'the installer wrapper (process {0})' -f $wrapperPid
            if ($null -ne $taskName) { $by = 'the scheduled task {0}' -f $taskName }
            throw (New-OperationException -Type 'InstallerStartFailed' -Message ('{0} did not start {1} within {2} s' -f $by, $InstallerPath, $StartTimeoutSeconds))
        }
        Start-Sleep -Milliseconds 100
    }
}

function Get-OneShotTaskFailure {
    # Why a one-shot task that should be running the wrapper is not, or $null while it may still be
    # starting or running. LastTaskResult 267009 (0x41301) is "running", 267011 (0x41303) "has not yet
    # run"; any other result of a task back in Ready is how its process ended (0x80070005: access denied).
    param([AllowNull()][System.Collections.IDictionary]$Task, [Parameter(Mandatory = $true)][string]$TaskName, [Parameter(Mandatory = $true)][string]$InstallerPath)
    if ($null -eq $Task) { return ('the scheduled task {0} that starts {1} is gone' -f $TaskName, $InstallerPath) }
    $state = [string]$Task['state']
    $result = [long]$Task['lastTaskResult']
    if ($state -eq 'Running' -or $state -eq 'Queued') { return $null }
    if ($state -eq 'Disabled') { return ('the scheduled task {0} that starts {1} is disabled' -f $TaskName, $InstallerPath) }
    if ($result -eq 267009 -or $result -eq 267011) { return $null }
    return ('the scheduled task {0} ended without starting {1} (LastTaskResult 0x{2:X8})' -f $TaskName, $InstallerPath, ($result -band [long]4294967295))
}

function Remove-FinishedTask {
    # The one-shot task of an execution that has ended is removed (started with scheduled_task only).
    param([Parameter(Mandatory = $true)][System.Collections.IDictionary]$Record)
    if ($Record['state'] -ne 'finished' -or -not $Record.Contains('startMethod') -or $Record['startMethod'] -ne 'scheduled_task') { return }
    Remove-OneShotTask -TaskName (Get-OneShotTaskName -ExecutionId ([string]$Record['executionId']))
}

function Complete-ExecutionRecord {
    # Finishes a record whose wrapper can no longer do it: stopped on timeout, or gone (host restart).
    param(
        [Parameter(Mandatory = $true)][string]$RecordPath,
        [Parameter(Mandatory = $true)][System.Collections.IDictionary]$Record,
        [switch]$TimedOut
    )
    $Record['state'] = 'finished'
    $Record['finishedAt'] = ConvertTo-UtcTimestamp -Time (Get-Date)
    $Record['timedOut'] = [bool]$TimedOut
    $Record['abandoned'] = -not $TimedOut
    Write-ExecutionRecord -Path $RecordPath -Record $Record
    # Its wrapper, which removes the extraction folder, is gone: the folder goes with the record.
    if ($Record.Contains('extractDir') -and -not [string]::IsNullOrEmpty([string]$Record['extractDir'])) {
        try { Remove-ExtractionFolder -Path ([string]$Record['extractDir']) } catch { $null = $_ }
    }
    return $Record
}

function Stop-InstallerExecution {
    param(
        [Parameter(Mandatory = $true)][string]$RecordPath,
        [Parameter(Mandatory = $true)][System.Collections.IDictionary]$Record
    )
    if (Test-ExecutionAlive -Record $Record) { $null = Stop-ProcessTree -RootId ([int]$Record['wrapperPid']) }
    $current = Read-ExecutionRecord -Path $RecordPath
    if ($null -ne $current -and $null -ne $current['installerPid'] -and $null -ne (Get-ProcessStartTimeUtc -ProcessId ([int]$current['installerPid']))) {
        $null = Stop-ProcessTree -RootId ([int]$current['installerPid'])
    }
    # The wrapper may have recorded the exit just before it was stopped; that result stands.
    if ($current['state'] -eq 'finished') { return $current }
    return (Complete-ExecutionRecord -RecordPath $RecordPath -Record $current -TimedOut)
}

function Get-TimeoutDecision {
    # Whether a timed-out installer is stopped. Windows Installer holds Global\_MSIExecute for the
    # whole of a transaction; stopping setup then can leave an instance half-patched. Pre-flight found
    # the mutex free before this installer started, so while its execution runs a held mutex is taken
    # to be its own; were it another installer's, leaving ours running would harm nothing either.
    param([Parameter(Mandatory = $true)][string]$TimeoutAction)
    switch ($TimeoutAction) {
        'kill' { return [ordered]@{ stop = $true; reason = $null } }
        'leave_running' { return [ordered]@{ stop = $false; reason = 'timeout_action is leave_running' } }
        'kill_when_safe' {
            if (Test-WindowsInstallerBusy) {
                return [ordered]@{ stop = $false; reason = 'it is inside a Windows Installer transaction (Global\_MSIExecute is held), where stopping it could leave an instance half-patched' }
            }
            return [ordered]@{ stop = $true; reason = $null }
        }
    }
    throw (New-OperationException -Type 'InvalidArguments' -Message ('timeoutAction "{0}" must be kill_when_safe, leave_running or kill' -f $TimeoutAction))
}

function Wait-InstallerExecution {
    # Waits until the execution finishes, its timeout (counted from its start) expires and its process
    # tree is stopped (or, per TimeoutAction, it is left running), or this call's own wait ends.
    # Outcome: finished | timed_out | left_running (with reason) | running.
    param(
        [Parameter(Mandatory = $true)][string]$RecordPath,
        [Parameter(Mandatory = $true)][double]$TimeoutSeconds,
        [Parameter(Mandatory = $true)][double]$WaitSeconds,
        [string]$TimeoutAction = 'kill_when_safe'
    )
    $waitUntil = (Get-Date).ToUniversalTime().AddSeconds($WaitSeconds)
    while ($true) {
        $record = Read-ExecutionRecord -Path $RecordPath
        if ($null -eq $record) {
            throw (New-OperationException -Type 'ExecutionNotFound' -Message ('the execution record "{0}" disappeared' -f $RecordPath))
        }
        if ($record['state'] -eq 'finished') {
            $outcome = 'finished'
            if ($record['timedOut']) { $outcome = 'timed_out' }
            return [ordered]@{ outcome = $outcome; record = $record }
        }
        if (-not (Test-ExecutionAlive -Record $record)) {
            $record = Read-ExecutionRecord -Path $RecordPath
            if ($record['state'] -ne 'finished') { $record = Complete-ExecutionRecord -RecordPath $RecordPath -Record $record }
            continue
        }
        $now = (Get-Date).ToUniversalTime()
        $deadline = (ConvertFrom-UtcTimestamp -Timestamp ([string]$record['startedAt'])).AddSeconds($TimeoutSeconds)
        if ($now -ge $deadline) {
            $decision = Get-TimeoutDecision -TimeoutAction $TimeoutAction
            if (-not $decision['stop']) { return [ordered]@{ outcome = 'left_running'; record = $record; reason = $decision['reason'] } }
            $record = Stop-InstallerExecution -RecordPath $RecordPath -Record $record
            continue
        }
        if ($now -ge $waitUntil) { return [ordered]@{ outcome = 'running'; record = $record } }
        $sleepMilliseconds = [Math]::Min(250, [Math]::Min(($deadline - $now).TotalMilliseconds, ($waitUntil - $now).TotalMilliseconds))
        Start-Sleep -Milliseconds ([int][Math]::Max(20, $sleepMilliseconds))
    }
}

function Get-SetupSummary {
    # The newest Summary.txt of SQL Server setup written since the execution started, with its tail.
    param(
        [AllowNull()][AllowEmptyString()][string]$MajorVersion,
        [Parameter(Mandatory = $true)][datetime]$NotBeforeUtc,
        [int]$TailLines = 80,
        [int]$HeadLines = 20,
        [int]$MaxCharacters = 8000
    )
    $candidates = New-Object -TypeName 'System.Collections.Generic.List[object]'
    foreach ($directory in @(Get-SetupBootstrapLogDirectory -MajorVersion $MajorVersion)) {
        if ([string]::IsNullOrEmpty($directory) -or -not (Test-Path -LiteralPath $directory -PathType Container)) { continue }
        # Setup writes Log\Summary.txt and a copy in the run's folder, Log\<timestamp>\Summary_<host>_<timestamp>.txt.
        # The same folder holds Summary_<host>_<timestamp>_GlobalRules.txt and _ComponentUpdate.txt from
        # setup's early phases: they carry no verdict on the execution and are left out.
        foreach ($file in @(Get-ChildItem -LiteralPath $directory -Filter 'Summary*.txt' -Recurse -File -ErrorAction SilentlyContinue)) {
            if (-not (Test-SetupSummaryFileName -Name $file.Name)) { continue }
            if ($file.LastWriteTimeUtc -ge $NotBeforeUtc) { $candidates.Add($file) }
        }
    }
    if ($candidates.Count -eq 0) { return $null }
    # Newest first; on a tie the top-level Summary.txt, the path operators know.
    $newest = @($candidates | Sort-Object -Property @{ Expression = { $_.LastWriteTimeUtc }; Descending = $true }, @{ Expression = { $_.Name -ne 'Summary.txt' }; Descending = $false })[0]
    $tail = (@(Get-Content -LiteralPath $newest.FullName -Tail $TailLines) -join "`r`n")
    if ($tail.Length -gt $MaxCharacters) { $tail = $tail.Substring($tail.Length - $MaxCharacters) }
    # The verdict ("Overall summary": Final result, Exit code (Decimal)) is at the top of the file.
    $head = (@(Get-Content -LiteralPath $newest.FullName -TotalCount $HeadLines) -join "`r`n")
    return [ordered]@{ path = $newest.FullName; tail = $tail; head = $head }
}

function Test-SetupSummaryFileName {
    # Summary.txt, or Summary_<host>_<yyyyMMdd_HHmmss>.txt: the files that hold an execution's verdict.
    param([Parameter(Mandatory = $true)][string]$Name)
    return ($Name -eq 'Summary.txt' -or $Name -match '^Summary_.+_\d{8}_\d{6}\.txt$')
}
