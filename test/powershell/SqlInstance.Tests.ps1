# discover and queryBuild, with only the Windows surfaces mocked: a fake registry, services,
# sqlservr.exe versions, cluster and SqlClient.
BeforeAll {
    $operations = Join-Path $PSScriptRoot '../../src/remote/powershell'
    . (Join-Path $operations 'Operation.Common.ps1')
    . (Join-Path $operations 'Surfaces.Windows.ps1')
    . (Join-Path $operations 'SqlInstance.ps1')
    . (Join-Path $operations 'Discover.ps1')
    . (Join-Path $operations 'QueryBuild.ps1')

    $sqlKey = 'HKLM:\SOFTWARE\Microsoft\Microsoft SQL Server'
    $script:Registry = @{
        "$sqlKey\Instance Names\SQL"            = [ordered]@{ MSSQLSERVER = 'MSSQL15.MSSQLSERVER'; SALES = 'MSSQL13.SALES' }
        "$sqlKey\MSSQL15.MSSQLSERVER\Setup"     = [ordered]@{
            Version = '15.0.2000.5'; PatchLevel = '15.0.4298.1'; Edition = 'Standard Edition'; SP = 0
            SQLBinRoot = 'C:\Program Files\Microsoft SQL Server\MSSQL15.MSSQLSERVER\MSSQL\Binn\'
        }
        "$sqlKey\MSSQL13.SALES\Setup"           = [ordered]@{ Version = '13.0.1601.5'; PatchLevel = '13.2.5026.0'; Edition = 'Enterprise Edition: Core-based Licensing'; SP = 2 }
        "$sqlKey\MSSQL13.SALES\Cluster"         = [ordered]@{ ClusterName = 'SALESVS' }
    }
    $script:Services = @{ MSSQLSERVER = 'Running'; SQLSERVERAGENT = 'Stopped'; 'MSSQL$SALES' = 'Stopped' }

    . (Join-Path $PSScriptRoot 'fixtures/InvokeTestOperation.ps1')
}

Describe 'discover with a 32-bit instance' {
    It 'finds an instance registered under WOW6432Node, with its build from that key' {
        $wow = 'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Microsoft SQL Server'
        $registry = @{
            "$sqlKey\Instance Names\SQL"       = [ordered]@{ MSSQLSERVER = 'MSSQL15.MSSQLSERVER' }
            "$sqlKey\MSSQL15.MSSQLSERVER\Setup" = [ordered]@{ Version = '15.0.2000.5'; PatchLevel = '15.0.4298.1'; Edition = 'Standard Edition'; SP = 0 }
            "$wow\Instance Names\SQL"          = [ordered]@{ LEGACY32 = 'MSSQL13.LEGACY32' }
            "$wow\MSSQL13.LEGACY32\Setup"       = [ordered]@{ Version = '13.0.1601.5'; PatchLevel = '13.3.6300.2'; Edition = 'Express Edition'; SP = 3 }
        }
        Mock Get-RegistryKeyValues { $registry[$Path] }
        Mock Get-ServiceStatus { 'Running' }
        Mock Get-FileProductVersion { $null }
        Mock Get-FailoverClusterName { $null }
        $result = (Invoke-TestOperation -EntryPoint 'Invoke-DiscoverOperation' -Arguments ([ordered]@{}))['result']
        @($result['instances'] | ForEach-Object { $_['instance'] }) | Should -Be @('LEGACY32', 'MSSQLSERVER')
        $legacy = $result['instances'][0]
        $legacy['instanceId'] | Should -Be 'MSSQL13.LEGACY32'
        $legacy['build'] | Should -Be '13.3.6300.2'
        $legacy['edition'] | Should -Be 'Express Edition'
    }
}

Describe 'discover' {
    BeforeEach {
        Mock Get-RegistryKeyValues { $script:Registry[$Path] }
        Mock Get-ServiceStatus { $script:Services[$Name] }
        Mock Get-FileProductVersion { '15.0.4395.2' } -ParameterFilter { $Path -eq 'C:\Program Files\Microsoft SQL Server\MSSQL15.MSSQLSERVER\MSSQL\Binn\sqlservr.exe' }
        Mock Get-FileProductVersion { $null }
        Mock Get-FailoverClusterName { 'PRODCLUSTER' }
    }

    It 'lists each instance with its build, edition, level and services' {
        $envelope = Invoke-TestOperation -EntryPoint 'Invoke-DiscoverOperation' -Arguments ([ordered]@{})
        $envelope['ok'] | Should -BeTrue
        $result = $envelope['result']
        $result['cluster'] | Should -Be 'PRODCLUSTER'
        $result['instances'].Count | Should -Be 2

        $default = $result['instances'][0]
        $default['instance'] | Should -Be 'MSSQLSERVER'
        $default['instanceId'] | Should -Be 'MSSQL15.MSSQLSERVER'
        # sqlservr.exe's version wins over the registry's PatchLevel.
        $default['build'] | Should -Be '15.0.4395.2'
        $default['setupPatchLevel'] | Should -Be '15.0.4298.1'
        $default['productLevel'] | Should -Be 'RTM'
        $default['services'][0]['name'] | Should -Be 'MSSQLSERVER'
        $default['services'][0]['state'] | Should -Be 'Running'
        $default['services'][1]['state'] | Should -Be 'Stopped'

        $named = $result['instances'][1]
        $named['instance'] | Should -Be 'SALES'
        $named['build'] | Should -Be '13.2.5026.0'
        $named['edition'] | Should -Be 'Enterprise Edition: Core-based Licensing'
        $named['productLevel'] | Should -Be 'SP2'
        $named['clusterVirtualName'] | Should -Be 'SALESVS'
        $named['services'][0]['name'] | Should -Be 'MSSQL$SALES'
        $named['services'][1]['name'] | Should -Be 'SQLAgent$SALES'
        $named['services'][1]['state'] | Should -Be 'NotFound'
    }

    It 'returns no instances on a host without SQL Server' {
        Mock Get-RegistryKeyValues { $null }
        Mock Get-FailoverClusterName { $null }
        $result = (Invoke-TestOperation -EntryPoint 'Invoke-DiscoverOperation' -Arguments ([ordered]@{}))['result']
        , $result['instances'] | Should -BeOfType [object[]]
        $result['instances'].Count | Should -Be 0
        $result['cluster'] | Should -BeNullOrEmpty
    }
}

Describe 'queryBuild' {
    BeforeEach {
        Mock Get-RegistryKeyValues { $script:Registry[$Path] }
        Mock Get-ServiceStatus { $script:Services[$Name] }
        Mock Get-FileProductVersion { $null }
    }

    It 'reads SERVERPROPERTY when the service runs' {
        Mock Invoke-SqlServerPropertyQuery { [ordered]@{ ProductVersion = '15.0.4395.2'; ProductLevel = 'RTM'; ProductUpdateLevel = 'CU30'; Edition = 'Standard Edition (64-bit)' } }
        $result = (Invoke-TestOperation -EntryPoint 'Invoke-QueryBuildOperation' -Arguments ([ordered]@{ instance = 'MSSQLSERVER' }))['result']
        $result['source'] | Should -Be 'sql'
        $result['build'] | Should -Be '15.0.4395.2'
        $result['productUpdateLevel'] | Should -Be 'CU30'
        $result['edition'] | Should -Be 'Standard Edition (64-bit)'
        Should -Invoke Invoke-SqlServerPropertyQuery -Times 1 -Exactly -ParameterFilter { $Instance -eq 'MSSQLSERVER' }
    }

    It 'falls back to the registry when the service is stopped, and says why' {
        Mock Invoke-SqlServerPropertyQuery { throw 'must not be called' }
        $result = (Invoke-TestOperation -EntryPoint 'Invoke-QueryBuildOperation' -Arguments ([ordered]@{ instance = 'SALES' }))['result']
        $result['source'] | Should -Be 'registry'
        $result['build'] | Should -Be '13.2.5026.0'
        $result['productLevel'] | Should -Be 'SP2'
        $result['fallbackReason'] | Should -Be 'service MSSQL$SALES is Stopped'
        Should -Invoke Invoke-SqlServerPropertyQuery -Times 0
    }

    It 'falls back to the registry when the query fails' {
        Mock Invoke-SqlServerPropertyQuery { throw 'Login failed for user' }
        $result = (Invoke-TestOperation -EntryPoint 'Invoke-QueryBuildOperation' -Arguments ([ordered]@{ instance = 'MSSQLSERVER' }))['result']
        $result['source'] | Should -Be 'registry'
        $result['build'] | Should -Be '15.0.4298.1'
        $result['fallbackReason'] | Should -BeLike '*Login failed for user*'
    }

    It 'reports an instance that is not installed' {
        $envelope = Invoke-TestOperation -EntryPoint 'Invoke-QueryBuildOperation' -Arguments ([ordered]@{ instance = 'NOPE' })
        $envelope['ok'] | Should -BeFalse
        $envelope['error']['type'] | Should -Be 'InstanceNotFound'
        $envelope['error']['message'] | Should -BeLike '*"NOPE"*'
    }
}
