# restart and hostHealth, with only the Windows surfaces mocked.
BeforeAll {
    $operations = Join-Path $PSScriptRoot '../../src/remote/powershell'
    . (Join-Path $operations 'Operation.Common.ps1')
    . (Join-Path $operations 'Surfaces.Windows.ps1')
    . (Join-Path $operations 'SqlInstance.ps1')
    . (Join-Path $operations 'Restart.ps1')
    . (Join-Path $operations 'HostHealth.ps1')
    . (Join-Path $PSScriptRoot 'fixtures/InvokeTestOperation.ps1')
}

Describe 'restart' {
    BeforeEach {
        Mock Get-LastBootTime { '2026-11-28T03:12:45.123Z' }
        Mock Invoke-HostRestart { 0 }
    }

    It 'asks Windows to restart with the run named in the comment, and returns the boot time from before' {
        $envelope = Invoke-TestOperation -EntryPoint 'Invoke-RestartOperation' -Arguments ([ordered]@{ comment = 'AutoDBAudit run 7: after patching (restart: always)' })
        $envelope['ok'] | Should -BeTrue
        $envelope['result']['bootTime'] | Should -Be '2026-11-28T03:12:45.123Z'
        $envelope['result']['alreadyUnderWay'] | Should -BeFalse
        Should -Invoke Invoke-HostRestart -Times 1 -Exactly -ParameterFilter { $Comment -eq 'AutoDBAudit run 7: after patching (restart: always)' }
    }

    It 'starts no second restart when one is already scheduled or in progress' {
        foreach ($code in @(1190, 1115)) {
            Mock Invoke-HostRestart { $code }.GetNewClosure()
            $envelope = Invoke-TestOperation -EntryPoint 'Invoke-RestartOperation' -Arguments ([ordered]@{ comment = 'AutoDBAudit run 7' })
            $envelope['ok'] | Should -BeTrue
            $envelope['result']['alreadyUnderWay'] | Should -BeTrue
        }
    }

    It 'keeps the comment within what Windows records' {
        $envelope = Invoke-TestOperation -EntryPoint 'Invoke-RestartOperation' -Arguments ([ordered]@{ comment = ('x' * 700) })
        $envelope['ok'] | Should -BeTrue
        Should -Invoke Invoke-HostRestart -Times 1 -Exactly -ParameterFilter { $Comment.Length -eq 500 }
    }

    It 'reports a refused restart as an error naming shutdown''s exit code' {
        Mock Invoke-HostRestart { 5 }
        $envelope = Invoke-TestOperation -EntryPoint 'Invoke-RestartOperation' -Arguments ([ordered]@{ comment = 'AutoDBAudit run 7' })
        $envelope['ok'] | Should -BeFalse
        $envelope['error']['type'] | Should -Be 'RestartRefused'
        $envelope['error']['message'] | Should -Be 'Windows refused the restart: shutdown /r exited 5'
    }
}

Describe 'hostHealth' {
    BeforeEach {
        Mock Get-LastBootTime { '2026-11-29T21:40:02.500Z' }
        Mock Get-ServiceStatus { 'Running' } -ParameterFilter { $Name -eq 'MSSQLSERVER' }
        Mock Get-ServiceStatus { 'Running' } -ParameterFilter { $Name -eq 'MSSQL$SALES' }
        Mock Get-ServiceStatus { 'Stopped' } -ParameterFilter { $Name -eq 'MSSQL$HR' }
        Mock Invoke-SqlDatabaseStateQuery {
            [ordered]@{ name = 'master'; state = 'ONLINE' }
            [ordered]@{ name = 'Orders'; state = 'ONLINE' }
        } -ParameterFilter { $Instance -eq 'MSSQLSERVER' }
        Mock Invoke-SqlDatabaseStateQuery {
            [ordered]@{ name = 'master'; state = 'ONLINE' }
            [ordered]@{ name = 'Sales'; state = 'RECOVERING' }
        } -ParameterFilter { $Instance -eq 'SALES' }
    }

    It 'says for each instance whether its engine runs and answers and which databases are not online, with the boot time' {
        $envelope = Invoke-TestOperation -EntryPoint 'Invoke-HostHealthOperation' -Arguments ([ordered]@{ instances = @('MSSQLSERVER', 'SALES', 'HR') })
        $envelope['ok'] | Should -BeTrue
        $result = $envelope['result']
        $result['bootTime'] | Should -Be '2026-11-29T21:40:02.500Z'
        $result['instances'].Count | Should -Be 3
        $result['instances'][0]['engineRunning'] | Should -BeTrue
        $result['instances'][0]['answering'] | Should -BeTrue
        $result['instances'][0]['offlineDatabases'].Count | Should -Be 0
        $result['instances'][1]['offlineDatabases'] | Should -Be @('Sales (RECOVERING)')
        $result['instances'][2]['engineRunning'] | Should -BeFalse
        $result['instances'][2]['answering'] | Should -BeFalse
        $result['instances'][2]['problem'] | Should -Be 'service MSSQL$HR is not running'
        Should -Invoke Invoke-SqlDatabaseStateQuery -Times 0 -ParameterFilter { $Instance -eq 'HR' }
    }

    It 'counts an engine that runs but does not answer as not answering' {
        Mock Invoke-SqlDatabaseStateQuery { throw 'A network-related or instance-specific error occurred' } -ParameterFilter { $Instance -eq 'MSSQLSERVER' }
        $result = (Invoke-TestOperation -EntryPoint 'Invoke-HostHealthOperation' -Arguments ([ordered]@{ instances = @('MSSQLSERVER') }))['result']
        $result['instances'][0]['engineRunning'] | Should -BeTrue
        $result['instances'][0]['answering'] | Should -BeFalse
        $result['instances'][0]['problem'] | Should -BeLike '*network-related*'
    }

    It 'returns the boot time alone when asked about no instance' {
        $result = (Invoke-TestOperation -EntryPoint 'Invoke-HostHealthOperation' -Arguments ([ordered]@{ instances = @() }))['result']
        $result['bootTime'] | Should -Be '2026-11-29T21:40:02.500Z'
        $result['instances'].Count | Should -Be 0
    }
}
