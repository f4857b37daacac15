# install and installerStatus with real processes: the detached wrapper, a fake installer (a shell
# script) and its children all run. Only the surfaces are mocked, with their Linux counterparts.
BeforeAll {
    $operations = Join-Path $PSScriptRoot '../../src/remote/powershell'
    . (Join-Path $operations 'Operation.Common.ps1')
    . (Join-Path $operations 'Surfaces.Windows.ps1')
    . (Join-Path $operations 'InstallerExecution.ps1')
    . (Join-Path $operations 'StagingFolder.ps1')
    . (Join-Path $operations 'Install.ps1')
    . (Join-Path $operations 'InstallerStatus.ps1')
    . (Join-Path $PSScriptRoot 'fixtures/PosixProcess.ps1')
    $script:SummaryFixture = Join-Path $PSScriptRoot 'fixtures/SetupBootstrap/Log'

    . (Join-Path $PSScriptRoot 'fixtures/InvokeTestOperation.ps1')

    function New-TestInstaller {
        # A shell script standing in for a SQL Server update package: on /x:<folder> it extracts itself
        # there as setup.exe, as a package's self-extractor does; run otherwise it is setup.
        param([string]$Path, [string]$Body, [switch]$NotExecutable, [string]$Extract = 'd="${1#/x:}"; mkdir -p "$d"; cp -p "$0" "$d/setup.exe"; exit 0')
        [System.IO.File]::WriteAllText($Path, "#!/bin/sh`ncase `"`$1`" in /x:*) " + $Extract + ";; esac`n" + $Body + "`n")
        if (-not $NotExecutable) { & chmod +x $Path }
    }

    function Get-TestProcessIdByCommandLine {
        # Running processes whose command line contains the text.
        param([string]$Text)
        foreach ($directory in [System.IO.Directory]::GetDirectories('/proc')) {
            $name = [System.IO.Path]::GetFileName($directory)
            if ($name -notmatch '^[0-9]+$' -or [int]$name -eq $PID) { continue }
            try { $commandLine = [System.IO.File]::ReadAllText($directory + '/cmdline').Replace([char]0, ' ') } catch { continue }
            if ($commandLine.Contains($Text) -and (Test-PosixProcessRunning -ProcessId ([int]$name))) { [int]$name }
        }
    }

    function Wait-TestCondition {
        param([scriptblock]$Condition, [double]$Seconds = 15)
        $deadline = (Get-Date).AddSeconds($Seconds)
        while (-not (& $Condition)) {
            if ((Get-Date) -gt $deadline) { throw 'condition not met in time' }
            Start-Sleep -Milliseconds 50
        }
    }
}

Describe 'Stop-ProcessTree' {
    It 'stops a real child pwsh and the grandchild it started' {
        Mock Get-ChildProcessId { Get-PosixChildProcessId -ProcessId $ProcessId }
        $marker = '300.{0}' -f (Get-Random -Minimum 1000 -Maximum 9999)
        $child = Start-Process -FilePath (Get-PowerShellExecutablePath) -ArgumentList @('-NoProfile', '-NonInteractive', '-Command', "/bin/sleep $marker") -RedirectStandardOutput '/dev/null' -PassThru
        Wait-TestCondition { @(Get-PosixChildProcessId -ProcessId $child.Id).Count -gt 0 }
        $grandchild = @(Get-PosixChildProcessId -ProcessId $child.Id)[0]
        Test-PosixProcessRunning -ProcessId $grandchild | Should -BeTrue

        $stopped = Stop-ProcessTree -RootId $child.Id

        $stopped | Should -Contain $child.Id
        $stopped | Should -Contain $grandchild
        Test-PosixProcessRunning -ProcessId $child.Id | Should -BeFalse
        Test-PosixProcessRunning -ProcessId $grandchild | Should -BeFalse
        @(Get-TestProcessIdByCommandLine -Text $marker).Count | Should -Be 0
    }
}

Describe 'Get-ProcessTreeId' {
    It 'walks on when the start time of a process cannot be read (a process of another account)' {
        Mock Get-ProcessStartTimeUtc { [datetime]::MinValue } -ParameterFilter { $ProcessId -eq 100 }
        Mock Get-ProcessStartTimeUtc { [datetime]::UtcNow }
        Mock Get-ChildProcessId { 101 } -ParameterFilter { $ProcessId -eq 100 }
        Mock Get-ChildProcessId { 102 } -ParameterFilter { $ProcessId -eq 101 }
        Mock Get-ChildProcessId { @() }
        $ids = Get-ProcessTreeId -RootId 100
        $ids | Should -Be @(100, 101, 102)
    }
}

Describe 'install' {
    BeforeEach {
        $script:Work = Join-Path ([System.IO.Path]::GetTempPath()) ('install-' + [guid]::NewGuid().ToString('N'))
        $script:Staging = Join-Path $script:Work 'staging'
        $script:Logs = Join-Path $script:Work 'Log'
        $null = New-Item -ItemType Directory -Path $script:Staging
        Copy-Item -LiteralPath $script:SummaryFixture -Destination $script:Logs -Recurse
        # Logs of an older run: not this execution's.
        foreach ($file in @(Get-ChildItem -LiteralPath $script:Logs -Recurse -File)) { $file.LastWriteTimeUtc = [datetime]::new(2024, 6, 11, 14, 5, 1, [System.DateTimeKind]::Utc) }
        Mock Start-DetachedProcess { Start-PosixDetachedProcess -FilePath $FilePath -ArgumentList $ArgumentList -WorkingDirectory $WorkingDirectory }
        # The scheduled task (the default start): its process is a detached one, its state read from it.
        $script:Tasks = @{}
        Mock Start-OneShotTask { $script:Tasks[$TaskName] = Start-PosixDetachedProcess -FilePath $FilePath -ArgumentList $ArgumentList -WorkingDirectory $WorkingDirectory }
        Mock Get-OneShotTaskState {
            if (-not $script:Tasks.ContainsKey($TaskName)) { return $null }
            if (Test-PosixProcessRunning -ProcessId $script:Tasks[$TaskName]) { return [ordered]@{ state = 'Running'; lastTaskResult = 267009 } }
            return [ordered]@{ state = 'Ready'; lastTaskResult = 0 }
        }
        Mock Remove-OneShotTask { $script:Tasks.Remove($TaskName) }
        Mock Get-ChildProcessId { Get-PosixChildProcessId -ProcessId $ProcessId }
        Mock Get-SetupBootstrapLogDirectory { $script:Logs }
        # The staging folder reads as the tool's own: owned by Administrators, writable by them and SYSTEM.
        Mock Get-DirectorySecurityFacts { if (Test-Path -LiteralPath $Path -PathType Container) { [ordered]@{ ownerSid = 'S-1-5-32-544'; owner = 'BUILTIN\Administrators'; rules = @() } } }
    }
    AfterEach {
        Remove-Item -LiteralPath $script:Work -Recurse -Force -ErrorAction SilentlyContinue
    }

    It 'runs the installer with the parameters as written and reports exit code, duration and the Summary.txt tail' {
        $installer = Join-Path $script:Staging 'SQLServer2019-KB5046859-x64.exe'
        # Like setup, it writes Summary.txt; it exits 42 because POSIX exit codes stop at 255.
        New-TestInstaller -Path $installer -Body ('printf "%s|" "$@" > "{0}/arguments.txt"; touch "{1}/Summary.txt"; exit 42' -f $script:Work, $script:Logs)
        $envelope = Invoke-TestOperation -EntryPoint 'Invoke-InstallOperation' -Arguments ([ordered]@{
                stagingDir = $script:Staging; executionId = 'run-1.step-1'; installerPath = $installer
                parameters = '/quiet /IAcceptSQLServerLicenseTerms /Action=Patch "/InstanceName=A B" $HOME'; timeoutSeconds = 60
            })

        $envelope['ok'] | Should -BeTrue
        $result = $envelope['result']
        $result['outcome'] | Should -Be 'exited'
        $result['exitCode'] | Should -Be 42
        $result['attached'] | Should -BeFalse
        $result['durationMs'] | Should -BeGreaterThan 0
        $result['finishedAt'] | Should -Match '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$'
        [System.IO.File]::ReadAllText((Join-Path $script:Work 'arguments.txt')) | Should -Be '/quiet|/IAcceptSQLServerLicenseTerms|/Action=Patch|/InstanceName=A B|$HOME|'
        $result['summaryPath'] | Should -Be (Join-Path $script:Logs 'Summary.txt')
        $expectedTail = @(Get-Content -LiteralPath (Join-Path $script:SummaryFixture 'Summary.txt') -Tail 80) -join "`r`n"
        $result['summaryTail'] | Should -Be $expectedTail
        $result['summaryTail'] | Should -BeLike '*Exit code (Decimal):           3010*'

        $record = ConvertFrom-OperationJson -Json ([System.IO.File]::ReadAllText((Join-Path $script:Staging 'executions/run-1.step-1.json')))
        $record['state'] | Should -Be 'finished'
        $record['exitCode'] | Should -Be 42
        $record['installerPid'] | Should -BeGreaterThan 0
        $record['wrapperPid'] | Should -BeGreaterThan 0
        $record['startMethod'] | Should -Be 'scheduled_task'
        Should -Invoke Start-OneShotTask -Times 1 -Exactly -ParameterFilter { $TaskName -eq 'AutoDBAudit-run-1.step-1' }
        Should -Invoke Start-DetachedProcess -Times 0
        # The one-shot task is removed once its execution has ended.
        Should -Invoke Remove-OneShotTask -ParameterFilter { $TaskName -eq 'AutoDBAudit-run-1.step-1' }
        $script:Tasks.ContainsKey('AutoDBAudit-run-1.step-1') | Should -BeFalse
    }

    It 'attaches to an execution with the same id and waits for it, never starting a second installer' {
        $installer = Join-Path $script:Staging 'cu.exe'
        New-TestInstaller -Path $installer -Body ('echo run >> "{0}/runs.txt"; sleep 1; exit 7' -f $script:Work)
        $arguments = [ordered]@{ stagingDir = $script:Staging; executionId = 'attach-me'; installerPath = $installer; parameters = ''; timeoutSeconds = 60; waitSeconds = 0.2 }

        $first = (Invoke-TestOperation -EntryPoint 'Invoke-InstallOperation' -Arguments $arguments)['result']
        $first['outcome'] | Should -Be 'running'
        $first['attached'] | Should -BeFalse
        (Invoke-TestOperation -EntryPoint 'Invoke-InstallerStatusOperation' -Arguments ([ordered]@{ stagingDir = $script:Staging; executionId = 'attach-me' }))['result']['state'] | Should -Be 'running'

        $arguments['waitSeconds'] = 30
        $second = (Invoke-TestOperation -EntryPoint 'Invoke-InstallOperation' -Arguments $arguments)['result']
        $second['outcome'] | Should -Be 'exited'
        $second['attached'] | Should -BeTrue
        $second['exitCode'] | Should -Be 7
        $second['startedAt'] | Should -Be $first['startedAt']

        $third = (Invoke-TestOperation -EntryPoint 'Invoke-InstallOperation' -Arguments $arguments)['result']
        $third['exitCode'] | Should -Be 7
        @(Get-Content -LiteralPath (Join-Path $script:Work 'runs.txt')).Count | Should -Be 1
        Should -Invoke Start-OneShotTask -Times 1 -Exactly
    }

    It 'stops the whole process tree once the timeout has passed since the start' {
        $marker = '300.{0}' -f (Get-Random -Minimum 1000 -Maximum 9999)
        $installer = Join-Path $script:Staging 'hangs.exe'
        # The installer starts a PowerShell that starts a sleeping grandchild, as setup starts its own engine.
        New-TestInstaller -Path $installer -Body ('"{0}" -NoProfile -NonInteractive -Command "/bin/sleep {1}"' -f (Get-PowerShellExecutablePath), $marker)
        $result = (Invoke-TestOperation -EntryPoint 'Invoke-InstallOperation' -Arguments ([ordered]@{
                    stagingDir = $script:Staging; executionId = 'hangs'; installerPath = $installer; parameters = ''; timeoutSeconds = 2
                }))['result']

        $result['outcome'] | Should -Be 'timed_out'
        $result['exitCode'] | Should -BeNullOrEmpty
        $result['durationMs'] | Should -BeGreaterOrEqual 2000
        @(Get-TestProcessIdByCommandLine -Text $marker).Count | Should -Be 0
        @(Get-TestProcessIdByCommandLine -Text 'extract/hangs/setup.exe').Count | Should -Be 0
        # The stopped wrapper could not remove its extraction folder: the stop did.
        Test-Path -LiteralPath (Join-Path $script:Staging 'extract/hangs') | Should -BeFalse

        $status = (Invoke-TestOperation -EntryPoint 'Invoke-InstallerStatusOperation' -Arguments ([ordered]@{ stagingDir = $script:Staging; executionId = 'hangs' }))['result']
        $status['state'] | Should -Be 'finished'
        $status['timedOut'] | Should -BeTrue
        $status['exitCode'] | Should -BeNullOrEmpty
    }

    It 'leaves an installer inside a Windows Installer transaction running at the timeout by default, and stops it when told to kill' {
        Mock Test-WindowsInstallerBusy { $true }
        $marker = '301.{0}' -f (Get-Random -Minimum 1000 -Maximum 9999)
        $installer = Join-Path $script:Staging 'in-transaction.exe'
        New-TestInstaller -Path $installer -Body ('/bin/sleep {0}' -f $marker)
        # Started first and seen running, so that the timeout (counted from the start, extraction included)
        # is judged while setup runs however slow the machine is.
        $arguments = [ordered]@{ stagingDir = $script:Staging; executionId = 'msi'; installerPath = $installer; parameters = ''; timeoutSeconds = 600; waitSeconds = 0 }
        $null = Invoke-TestOperation -EntryPoint 'Invoke-InstallOperation' -Arguments $arguments
        Wait-TestCondition { @(Get-TestProcessIdByCommandLine -Text $marker).Count -eq 1 } -Seconds 60
        $arguments['timeoutSeconds'] = 0.01
        $arguments['waitSeconds'] = 30

        $result = (Invoke-TestOperation -EntryPoint 'Invoke-InstallOperation' -Arguments $arguments)['result']
        $result['outcome'] | Should -Be 'left_running'
        $result['leftRunningReason'] | Should -BeLike '*inside a Windows Installer transaction (Global\_MSIExecute is held)*'
        $result['exitCode'] | Should -BeNullOrEmpty
        @(Get-TestProcessIdByCommandLine -Text $marker).Count | Should -Be 1
        (Invoke-TestOperation -EntryPoint 'Invoke-InstallerStatusOperation' -Arguments ([ordered]@{ stagingDir = $script:Staging; executionId = 'msi' }))['result']['state'] | Should -Be 'running'
        Should -Invoke Test-WindowsInstallerBusy -Times 1

        $arguments['timeoutAction'] = 'kill'
        $killed = (Invoke-TestOperation -EntryPoint 'Invoke-InstallOperation' -Arguments $arguments)['result']
        $killed['outcome'] | Should -Be 'timed_out'
        @(Get-TestProcessIdByCommandLine -Text $marker).Count | Should -Be 0
    }

    It 'stops an installer at the timeout by default when no Windows Installer transaction is under way' {
        Mock Test-WindowsInstallerBusy { $false }
        $installer = Join-Path $script:Staging 'outside.exe'
        New-TestInstaller -Path $installer -Body '/bin/sleep 300.5'
        $result = (Invoke-TestOperation -EntryPoint 'Invoke-InstallOperation' -Arguments ([ordered]@{
                    stagingDir = $script:Staging; executionId = 'outside'; installerPath = $installer; parameters = ''; timeoutSeconds = 1; timeoutAction = 'kill_when_safe'
                }))['result']
        $result['outcome'] | Should -Be 'timed_out'
        $result['leftRunningReason'] | Should -BeNullOrEmpty
    }

    It 'never stops an installer with leave_running, and refuses an unknown timeout action' {
        Mock Test-WindowsInstallerBusy { $false }
        $marker = '302.{0}' -f (Get-Random -Minimum 1000 -Maximum 9999)
        $installer = Join-Path $script:Staging 'left.exe'
        New-TestInstaller -Path $installer -Body ('/bin/sleep {0}' -f $marker)
        $arguments = [ordered]@{ stagingDir = $script:Staging; executionId = 'left'; installerPath = $installer; parameters = ''; timeoutSeconds = 600; waitSeconds = 0; timeoutAction = 'leave_running' }
        $null = Invoke-TestOperation -EntryPoint 'Invoke-InstallOperation' -Arguments $arguments
        Wait-TestCondition { @(Get-TestProcessIdByCommandLine -Text $marker).Count -eq 1 } -Seconds 60
        $arguments['timeoutSeconds'] = 0.01
        $arguments['waitSeconds'] = 30
        $result = (Invoke-TestOperation -EntryPoint 'Invoke-InstallOperation' -Arguments $arguments)['result']
        $result['outcome'] | Should -Be 'left_running'
        $result['leftRunningReason'] | Should -Be 'timeout_action is leave_running'
        @(Get-TestProcessIdByCommandLine -Text $marker).Count | Should -Be 1
        $arguments['timeoutAction'] = 'kill'
        $null = Invoke-TestOperation -EntryPoint 'Invoke-InstallOperation' -Arguments $arguments

        $arguments['timeoutAction'] = 'stop'
        $arguments['executionId'] = 'unknown-action'
        (Invoke-TestOperation -EntryPoint 'Invoke-InstallOperation' -Arguments $arguments)['error']['type'] | Should -Be 'InvalidArguments'
    }

    It 'reports an installer that cannot be started' {
        $installer = Join-Path $script:Staging 'not-executable.exe'
        New-TestInstaller -Path $installer -Body 'exit 0' -NotExecutable
        $envelope = Invoke-TestOperation -EntryPoint 'Invoke-InstallOperation' -Arguments ([ordered]@{
                stagingDir = $script:Staging; executionId = 'cannot-start'; installerPath = $installer; parameters = ''; timeoutSeconds = 30
            })
        $envelope['ok'] | Should -BeFalse
        $envelope['error']['type'] | Should -Be 'InstallerStartFailed'
        $envelope['error']['message'] | Should -BeLike '*not-executable.exe*'
    }

    It 'checks the staged installer again just before it starts and never runs one that changed since staging' {
        $installer = Join-Path $script:Staging 'swapped.exe'
        New-TestInstaller -Path $installer -Body ('echo run >> "{0}/runs.txt"; exit 0' -f $script:Work)
        $staged = (Get-FileHash -LiteralPath $installer -Algorithm SHA256).Hash.ToLowerInvariant()
        Add-Content -LiteralPath $installer -Value '# changed after staging'
        $envelope = Invoke-TestOperation -EntryPoint 'Invoke-InstallOperation' -Arguments ([ordered]@{
                stagingDir = $script:Staging; executionId = 'swapped'; installerPath = $installer; parameters = ''; timeoutSeconds = 30; sha256 = $staged
            })
        $envelope['ok'] | Should -BeFalse
        $envelope['error']['type'] | Should -Be 'StagedFileChanged'
        $envelope['error']['message'] | Should -BeLike ('*expected {0}*' -f $staged)
        Test-Path -LiteralPath (Join-Path $script:Work 'runs.txt') | Should -BeFalse
        Should -Invoke Start-OneShotTask -Times 0
    }

    It 'extracts the package with /x: into its own folder under the staging root, runs setup.exe from there, and removes the folder' {
        $installer = Join-Path $script:Staging 'SQLServer2022-KB5048033-x64.exe'
        New-TestInstaller -Path $installer -Body ('echo "$0|$(pwd)|$*" > "{0}/setup-run.txt"; exit 0' -f $script:Work)
        $result = (Invoke-TestOperation -EntryPoint 'Invoke-InstallOperation' -Arguments ([ordered]@{
                    stagingDir = $script:Staging; executionId = 'run-3.step-1'; installerPath = $installer; parameters = '/quiet /Action=Patch /AllInstances'; timeoutSeconds = 60
                }))['result']
        $folder = Join-Path $script:Staging 'extract/run-3.step-1'
        $result['exitCode'] | Should -Be 0
        $result['extractDir'] | Should -Be $folder
        [System.IO.File]::ReadAllText((Join-Path $script:Work 'setup-run.txt')).Trim() | Should -Be ('{0}|{1}|/quiet /Action=Patch /AllInstances' -f (Join-Path $folder 'setup.exe'), $folder)
        Test-Path -LiteralPath $folder | Should -BeFalse
        (ConvertFrom-OperationJson -Json ([System.IO.File]::ReadAllText((Join-Path $script:Staging 'executions/run-3.step-1.json'))))['phase'] | Should -Be 'setup'
    }

    It 'fails a package that does not extract as never started, runs no setup, and leaves no folder' {
        $installer = Join-Path $script:Staging 'broken.exe'
        New-TestInstaller -Path $installer -Body ('echo run >> "{0}/runs.txt"; exit 0' -f $script:Work) -Extract 'd="${1#/x:}"; mkdir -p "$d"; echo partial > "$d/half.cab"; exit 5'
        $envelope = Invoke-TestOperation -EntryPoint 'Invoke-InstallOperation' -Arguments ([ordered]@{
                stagingDir = $script:Staging; executionId = 'broken'; installerPath = $installer; parameters = ''; timeoutSeconds = 60
            })
        $envelope['ok'] | Should -BeFalse
        $envelope['error']['type'] | Should -Be 'InstallerStartFailed'
        $envelope['error']['message'] | Should -BeLike '*broken.exe" could not be started: extracting the package with /x: exited 5; setup.exe never ran'
        Test-Path -LiteralPath (Join-Path $script:Work 'runs.txt') | Should -BeFalse
        Test-Path -LiteralPath (Join-Path $script:Staging 'extract/broken') | Should -BeFalse
    }

    It 'cleans what a crash left: a wrapper that died while extracting is started again, and folders of executions that are over are removed' {
        $installer = Join-Path $script:Staging 'cu.exe'
        New-TestInstaller -Path $installer -Body ('echo run >> "{0}/runs.txt"; exit 0' -f $script:Work)
        $ended = Start-Process -FilePath '/bin/true' -PassThru
        $ended.WaitForExit()
        $null = New-Item -ItemType Directory -Path (Join-Path $script:Staging 'executions') -Force
        # This execution's wrapper died half-way through extracting (a host restart).
        $dead = [ordered]@{
            executionId = 'crashed'; launchToken = 'x'; state = 'running'; phase = 'extracting'; installerPath = $installer; parameters = ''
            extractDir = (Join-Path $script:Staging 'extract/crashed'); startedAt = '2025-01-14T09:30:12.000Z'; wrapperPid = $ended.Id
            wrapperStartedAt = '2025-01-14T09:30:11.000Z'; installerPid = $null; exitCode = $null; finishedAt = $null; timedOut = $false; abandoned = $false; error = $null
        }
        [System.IO.File]::WriteAllText((Join-Path $script:Staging 'executions/crashed.json'), (ConvertTo-OperationJson -Value $dead))
        $null = New-Item -ItemType Directory -Path (Join-Path $script:Staging 'extract/crashed') -Force
        [System.IO.File]::WriteAllText((Join-Path $script:Staging 'extract/crashed/half.cab'), 'partial')
        # An older execution that finished, whose folder a restart kept from being removed; and one nobody knows.
        $finished = [ordered]@{ executionId = 'older'; state = 'finished'; exitCode = 0 }
        [System.IO.File]::WriteAllText((Join-Path $script:Staging 'executions/older.json'), (ConvertTo-OperationJson -Value $finished))
        $null = New-Item -ItemType Directory -Path (Join-Path $script:Staging 'extract/older') -Force
        $null = New-Item -ItemType Directory -Path (Join-Path $script:Staging 'extract/unknown') -Force

        $result = (Invoke-TestOperation -EntryPoint 'Invoke-InstallOperation' -Arguments ([ordered]@{
                    stagingDir = $script:Staging; executionId = 'crashed'; installerPath = $installer; parameters = ''; timeoutSeconds = 60
                }))['result']
        $result['outcome'] | Should -Be 'exited'
        $result['attached'] | Should -BeFalse
        $result['exitCode'] | Should -Be 0
        @(Get-Content -LiteralPath (Join-Path $script:Work 'runs.txt')).Count | Should -Be 1
        @($result['staleExtractionsRemoved'] | ForEach-Object { Split-Path -Leaf $_ } | Sort-Object) | Should -Be @('older', 'unknown')
        @(Get-ChildItem -LiteralPath (Join-Path $script:Staging 'extract')).Count | Should -Be 0
    }

    It 'refuses a missing installer and an executionId that is not a plain name' {
        $missing = Invoke-TestOperation -EntryPoint 'Invoke-InstallOperation' -Arguments ([ordered]@{
                stagingDir = $script:Staging; executionId = 'x'; installerPath = (Join-Path $script:Staging 'absent.exe'); parameters = ''; timeoutSeconds = 30
            })
        $missing['error']['type'] | Should -Be 'FileNotFound'
        $traversal = Invoke-TestOperation -EntryPoint 'Invoke-InstallOperation' -Arguments ([ordered]@{
                stagingDir = $script:Staging; executionId = '../x'; installerPath = (Join-Path $script:Staging 'absent.exe'); parameters = ''; timeoutSeconds = 30
            })
        $traversal['error']['type'] | Should -Be 'InvalidArguments'
        Should -Invoke Start-OneShotTask -Times 0
    }

    It 'starts the wrapper through WMI when told to (installer_start wmi), keeping the same record and result' {
        $installer = Join-Path $script:Staging 'cu.exe'
        New-TestInstaller -Path $installer -Body 'exit 0'
        $result = (Invoke-TestOperation -EntryPoint 'Invoke-InstallOperation' -Arguments ([ordered]@{
                    stagingDir = $script:Staging; executionId = 'by-wmi'; installerPath = $installer; parameters = ''; timeoutSeconds = 60; startMethod = 'wmi'
                }))['result']
        $result['exitCode'] | Should -Be 0
        Should -Invoke Start-DetachedProcess -Times 1 -Exactly
        Should -Invoke Start-OneShotTask -Times 0
        Should -Invoke Remove-OneShotTask -Times 0
        (ConvertFrom-OperationJson -Json ([System.IO.File]::ReadAllText((Join-Path $script:Staging 'executions/by-wmi.json'))))['startMethod'] | Should -Be 'wmi'
        (Invoke-TestOperation -EntryPoint 'Invoke-InstallOperation' -Arguments ([ordered]@{
                stagingDir = $script:Staging; executionId = 'x'; installerPath = $installer; parameters = ''; timeoutSeconds = 60; startMethod = 'psexec'
            }))['error']['type'] | Should -Be 'InvalidArguments'
    }

    It 'reports a WMI start that Defender blocks as an installer that could not be started' {
        Mock Start-DetachedProcess { throw (New-OperationException -Type 'ProcessStartFailed' -Message 'Win32_Process.Create returned 2') }
        $installer = Join-Path $script:Staging 'cu.exe'
        New-TestInstaller -Path $installer -Body 'exit 0'
        $envelope = Invoke-TestOperation -EntryPoint 'Invoke-InstallOperation' -Arguments ([ordered]@{
                stagingDir = $script:Staging; executionId = 'blocked'; installerPath = $installer; parameters = ''; timeoutSeconds = 60; startMethod = 'wmi'
            })
        $envelope['error']['type'] | Should -Be 'InstallerStartFailed'
        $envelope['error']['message'] | Should -BeLike '*could not be started through WMI: Win32_Process.Create returned 2'
    }

    It 'reports a scheduled task that ended without starting the wrapper, with its LastTaskResult, and removes it' {
        Mock Start-OneShotTask { $script:Tasks[$TaskName] = -1 }
        Mock Get-OneShotTaskState { [ordered]@{ state = 'Ready'; lastTaskResult = 2147942405 } }
        $installer = Join-Path $script:Staging 'cu.exe'
        New-TestInstaller -Path $installer -Body 'exit 0'
        $envelope = Invoke-TestOperation -EntryPoint 'Invoke-InstallOperation' -Arguments ([ordered]@{
                stagingDir = $script:Staging; executionId = 'denied'; installerPath = $installer; parameters = ''; timeoutSeconds = 60
            })
        $envelope['error']['type'] | Should -Be 'InstallerStartFailed'
        $envelope['error']['message'] | Should -BeLike ('the scheduled task AutoDBAudit-denied ended without starting {0} (LastTaskResult 0x80070005)' -f $installer)
        Should -Invoke Remove-OneShotTask -Times 1 -ParameterFilter { $TaskName -eq 'AutoDBAudit-denied' }
    }

    It 'reports a task that could not be registered (Task Scheduler not allowed) as an installer that could not be started' {
        Mock Start-OneShotTask { throw 'Access is denied. (0x80070005)' }
        $installer = Join-Path $script:Staging 'cu.exe'
        New-TestInstaller -Path $installer -Body 'exit 0'
        $envelope = Invoke-TestOperation -EntryPoint 'Invoke-InstallOperation' -Arguments ([ordered]@{
                stagingDir = $script:Staging; executionId = 'no-tasks'; installerPath = $installer; parameters = ''; timeoutSeconds = 60
            })
        $envelope['error']['type'] | Should -Be 'InstallerStartFailed'
        $envelope['error']['message'] | Should -BeLike '*AutoDBAudit-no-tasks that starts*could not be registered or started: Access is denied. (0x80070005)'
    }
}

Describe 'Start-OneShotTask (the ScheduledTasks cmdlets mocked at the surface)' {
    BeforeAll {
        # The ScheduledTasks module exists on Windows only: stand-ins with its parameters, for Pester to mock.
        function New-ScheduledTaskAction { param($Execute, $Argument, $WorkingDirectory) }
        function New-ScheduledTaskPrincipal { param($UserId, $LogonType, $RunLevel) }
        function New-ScheduledTaskSettingsSet { param($ExecutionTimeLimit, [switch]$AllowStartIfOnBatteries, [switch]$DontStopIfGoingOnBatteries, $MultipleInstances) }
        function New-ScheduledTask { param($Action, $Principal, $Settings, $Description) }
        function Register-ScheduledTask { param($TaskName, $TaskPath, $InputObject, [switch]$Force) }
        function Start-ScheduledTask { param($TaskName, $TaskPath) }
        function Get-ScheduledTask { param($TaskName, $TaskPath) }
        function Get-ScheduledTaskInfo { param($TaskName, $TaskPath) }
        function Unregister-ScheduledTask { param($TaskName, $TaskPath, [switch]$Confirm) }
    }
    BeforeEach {
        Mock New-ScheduledTaskAction { [pscustomobject]@{ Kind = 'action'; Execute = $Execute; Argument = $Argument; WorkingDirectory = $WorkingDirectory } }
        Mock New-ScheduledTaskPrincipal { [pscustomobject]@{ Kind = 'principal'; UserId = $UserId; LogonType = $LogonType; RunLevel = $RunLevel } }
        Mock New-ScheduledTaskSettingsSet { [pscustomobject]@{ Kind = 'settings'; ExecutionTimeLimit = $ExecutionTimeLimit; MultipleInstances = $MultipleInstances } }
        Mock New-ScheduledTask { [pscustomobject]@{ Action = $Action; Principal = $Principal; Settings = $Settings } }
        Mock Register-ScheduledTask { [pscustomobject]@{ TaskName = $TaskName } }
        Mock Start-ScheduledTask { $null = $TaskName }
    }

    It 'registers a task that runs the command as SYSTEM at the highest run level, with no time limit, and starts it' {
        Start-OneShotTask -TaskName 'AutoDBAudit-run-4.step-1' -FilePath 'C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe' -ArgumentList '-NoProfile -EncodedCommand AAAA' -WorkingDirectory 'C:\ProgramData\AutoDBAudit\staging\executions'
        Should -Invoke New-ScheduledTaskAction -Times 1 -Exactly -ParameterFilter { $Execute -like '*powershell.exe' -and $Argument -eq '-NoProfile -EncodedCommand AAAA' -and $WorkingDirectory -eq 'C:\ProgramData\AutoDBAudit\staging\executions' }
        Should -Invoke New-ScheduledTaskPrincipal -Times 1 -Exactly -ParameterFilter { $UserId -eq 'NT AUTHORITY\SYSTEM' -and $LogonType -eq 'ServiceAccount' -and $RunLevel -eq 'Highest' }
        Should -Invoke New-ScheduledTaskSettingsSet -Times 1 -Exactly -ParameterFilter { $ExecutionTimeLimit -eq [TimeSpan]::Zero -and $MultipleInstances -eq 'IgnoreNew' }
        Should -Invoke Register-ScheduledTask -Times 1 -Exactly -ParameterFilter { $TaskName -eq 'AutoDBAudit-run-4.step-1' -and $TaskPath -eq '\AutoDBAudit\' -and $InputObject.Principal.RunLevel -eq 'Highest' -and $InputObject.Action.Kind -eq 'action' }
        Should -Invoke Start-ScheduledTask -Times 1 -Exactly -ParameterFilter { $TaskName -eq 'AutoDBAudit-run-4.step-1' -and $TaskPath -eq '\AutoDBAudit\' }
    }

    It 'reads the state and LastTaskResult, and answers $null for a task that is not there' {
        Mock Get-ScheduledTask { if ($TaskName -eq 'there') { [pscustomobject]@{ State = 'Ready' } } }
        Mock Get-ScheduledTaskInfo { [pscustomobject]@{ LastTaskResult = 2147942405 } }
        $state = Get-OneShotTaskState -TaskName 'there'
        $state['state'] | Should -Be 'Ready'
        $state['lastTaskResult'] | Should -Be 2147942405
        Get-OneShotTaskState -TaskName 'gone' | Should -BeNullOrEmpty
    }

    It 'takes a running or not-yet-run task as starting, any other result of a finished one as a failure' {
        Get-OneShotTaskFailure -Task ([ordered]@{ state = 'Running'; lastTaskResult = 267009 }) -TaskName 't' -InstallerPath 'x.exe' | Should -BeNullOrEmpty
        Get-OneShotTaskFailure -Task ([ordered]@{ state = 'Ready'; lastTaskResult = 267011 }) -TaskName 't' -InstallerPath 'x.exe' | Should -BeNullOrEmpty
        Get-OneShotTaskFailure -Task ([ordered]@{ state = 'Disabled'; lastTaskResult = 0 }) -TaskName 't' -InstallerPath 'x.exe' | Should -Be 'the scheduled task t that starts x.exe is disabled'
        Get-OneShotTaskFailure -Task $null -TaskName 't' -InstallerPath 'x.exe' | Should -Be 'the scheduled task t that starts x.exe is gone'
    }
}

Describe 'installerStatus' {
    BeforeEach {
        $script:Staging = Join-Path ([System.IO.Path]::GetTempPath()) ('status-' + [guid]::NewGuid().ToString('N'))
        $null = New-Item -ItemType Directory -Path (Join-Path $script:Staging 'executions') -Force
    }
    AfterEach {
        Remove-Item -LiteralPath $script:Staging -Recurse -Force
    }

    It 'says not_started for an execution it has no record of' {
        $result = (Invoke-TestOperation -EntryPoint 'Invoke-InstallerStatusOperation' -Arguments ([ordered]@{ stagingDir = $script:Staging; executionId = 'never' }))['result']
        $result['state'] | Should -Be 'not_started'
    }

    It 'says not_started for an execution whose wrapper died while extracting, removing what it left' {
        $ended = Start-Process -FilePath '/bin/true' -PassThru
        $ended.WaitForExit()
        $folder = Join-Path $script:Staging 'extract/halfway'
        $null = New-Item -ItemType Directory -Path $folder -Force
        $record = [ordered]@{
            executionId = 'halfway'; launchToken = 'x'; state = 'running'; phase = 'extracting'; installerPath = '/x'; parameters = ''; extractDir = $folder
            startedAt = '2025-01-14T09:30:12.000Z'; wrapperPid = $ended.Id; wrapperStartedAt = '2025-01-14T09:30:11.000Z'
            installerPid = $null; exitCode = $null; finishedAt = $null; timedOut = $false; abandoned = $false; error = $null
        }
        [System.IO.File]::WriteAllText((Join-Path $script:Staging 'executions/halfway.json'), (ConvertTo-OperationJson -Value $record))
        $result = (Invoke-TestOperation -EntryPoint 'Invoke-InstallerStatusOperation' -Arguments ([ordered]@{ stagingDir = $script:Staging; executionId = 'halfway' }))['result']
        $result['state'] | Should -Be 'not_started'
        Test-Path -LiteralPath $folder | Should -BeFalse
        Test-Path -LiteralPath (Join-Path $script:Staging 'executions/halfway.json') | Should -BeFalse
    }

    It 'settles an execution whose wrapper is gone without a result as finished with no exit code' {
        # A process that has certainly ended: its id is in the record, as after a host restart.
        $ended = Start-Process -FilePath '/bin/true' -PassThru
        $ended.WaitForExit()
        $recordPath = Join-Path $script:Staging 'executions/lost.json'
        $record = [ordered]@{
            executionId = 'lost'; launchToken = 'x'; state = 'running'; installerPath = '/x'; parameters = ''
            startedAt = '2025-01-14T09:30:12.000Z'; wrapperPid = $ended.Id; wrapperStartedAt = '2025-01-14T09:30:11.000Z'
            installerPid = $null; exitCode = $null; finishedAt = $null; timedOut = $false; abandoned = $false; error = $null
        }
        [System.IO.File]::WriteAllText($recordPath, (ConvertTo-OperationJson -Value $record))

        $result = (Invoke-TestOperation -EntryPoint 'Invoke-InstallerStatusOperation' -Arguments ([ordered]@{ stagingDir = $script:Staging; executionId = 'lost' }))['result']
        $result['state'] | Should -Be 'finished'
        $result['abandoned'] | Should -BeTrue
        $result['exitCode'] | Should -BeNullOrEmpty
        $result['startedAt'] | Should -Be '2025-01-14T09:30:12.000Z'
        (ConvertFrom-OperationJson -Json ([System.IO.File]::ReadAllText($recordPath)))['state'] | Should -Be 'finished'
    }
}

Describe 'Get-SetupSummary' {
    BeforeEach {
        $script:Logs = Join-Path ([System.IO.Path]::GetTempPath()) ('log-' + [guid]::NewGuid().ToString('N'))
        Copy-Item -LiteralPath $script:SummaryFixture -Destination $script:Logs -Recurse
        $script:Top = Get-Item -LiteralPath (Join-Path $script:Logs 'Summary.txt')
        $script:RunCopy = Get-Item -LiteralPath (Join-Path $script:Logs '20250114_093012/Summary_SQL1_20250114_093012.txt')
        $script:OldRun = Get-Item -LiteralPath (Join-Path $script:Logs '20240611_140501/Summary_SQL1_20240611_140501.txt')
        $script:OldRun.LastWriteTimeUtc = [datetime]::new(2024, 6, 11, 14, 5, 1, [System.DateTimeKind]::Utc)
        Mock Get-SetupBootstrapLogDirectory { $script:Logs } -ParameterFilter { $MajorVersion -eq '150' }
        Mock Get-SetupBootstrapLogDirectory { @() }
    }
    AfterEach {
        Remove-Item -LiteralPath $script:Logs -Recurse -Force
    }

    It 'takes the newest summary written since the execution started' {
        $script:Top.LastWriteTimeUtc = [datetime]::new(2025, 1, 14, 9, 41, 57, [System.DateTimeKind]::Utc)
        $script:RunCopy.LastWriteTimeUtc = [datetime]::new(2025, 1, 14, 9, 41, 58, [System.DateTimeKind]::Utc)
        $summary = Get-SetupSummary -MajorVersion '150' -NotBeforeUtc ([datetime]::new(2025, 1, 14, 9, 30, 0, [System.DateTimeKind]::Utc)) -TailLines 3
        $summary['path'] | Should -Be $script:RunCopy.FullName
        $summary['tail'] | Should -Be ('There are no scenario-specific rules.' + "`r`n`r`n" + 'Rules report file:               C:\Program Files\Microsoft SQL Server\150\Setup Bootstrap\Log\20250114_093012\SystemConfigurationCheck_Report.htm')
    }

    It 'reads the summary of this execution with its verdict, never the GlobalRules or ComponentUpdate summaries written beside it' {
        $script:Top.LastWriteTimeUtc = [datetime]::new(2025, 1, 14, 9, 41, 57, [System.DateTimeKind]::Utc)
        $script:RunCopy.LastWriteTimeUtc = [datetime]::new(2025, 1, 14, 9, 41, 58, [System.DateTimeKind]::Utc)
        foreach ($phase in @('GlobalRules', 'ComponentUpdate')) {
            (Get-Item -LiteralPath (Join-Path $script:Logs ('20250114_093012/Summary_SQL1_20250114_093012_{0}.txt' -f $phase))).LastWriteTimeUtc = [datetime]::new(2025, 1, 14, 9, 42, 30, [System.DateTimeKind]::Utc)
        }
        $summary = Get-SetupSummary -MajorVersion '150' -NotBeforeUtc ([datetime]::new(2025, 1, 14, 9, 30, 0, [System.DateTimeKind]::Utc))
        $summary['path'] | Should -Be $script:RunCopy.FullName
        $summary['head'] | Should -BeLike 'Overall summary:*Final result:                  Passed but reboot required, see logs for details*Exit code (Decimal):           3010*'
    }

    It 'prefers the top-level Summary.txt when both were written at the same time' {
        $same = [datetime]::new(2025, 1, 14, 9, 41, 57, [System.DateTimeKind]::Utc)
        $script:Top.LastWriteTimeUtc = $same
        $script:RunCopy.LastWriteTimeUtc = $same
        (Get-SetupSummary -MajorVersion '150' -NotBeforeUtc $same.AddMinutes(-10))['path'] | Should -Be $script:Top.FullName
    }

    It 'returns nothing when setup wrote no summary since the start, or the version has no log folder' {
        Get-SetupSummary -MajorVersion '150' -NotBeforeUtc ([datetime]::UtcNow.AddMinutes(1)) | Should -BeNullOrEmpty
        Get-SetupSummary -MajorVersion '160' -NotBeforeUtc ([datetime]::new(2000, 1, 1)) | Should -BeNullOrEmpty
    }

    It 'keeps only the end of a very long summary' {
        $script:Top.LastWriteTimeUtc = [datetime]::UtcNow
        $summary = Get-SetupSummary -MajorVersion '150' -NotBeforeUtc ([datetime]::UtcNow.AddMinutes(-1)) -TailLines 1000 -MaxCharacters 100
        $summary['tail'].Length | Should -Be 100
        $summary['tail'] | Should -BeLike '*SystemConfigurationCheck_Report.htm'
    }
}
