package dev.flicker.api;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.annotation.JsonNaming;

import java.util.List;
import java.util.Map;

/** Request and response shapes of the Lambda REST API (2015-03-31), field for field, in Lambda's PascalCase. */
public final class Model {
    private Model() {}

    @JsonNaming(PropertyNamingStrategies.UpperCamelCaseStrategy.class)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record CreateFunctionRequest(String functionName, String runtime, String handler, Code code, Integer memorySize,
                                        Integer timeout, Environment environment, String description, Boolean publish) {}

    /** UpdateFunctionCode: the new zip, and whether to publish a version of it. */
    @JsonNaming(PropertyNamingStrategies.UpperCamelCaseStrategy.class)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record UpdateCodeRequest(String zipFile, Boolean publish) {}

    /** PublishVersion: every field optional. */
    @JsonNaming(PropertyNamingStrategies.UpperCamelCaseStrategy.class)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record PublishVersionRequest(String codeSha256, String description) {}

    @JsonNaming(PropertyNamingStrategies.UpperCamelCaseStrategy.class)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Code(String zipFile) {}

    /** UpdateFunctionConfiguration: every field optional; what is absent stays. */
    @JsonNaming(PropertyNamingStrategies.UpperCamelCaseStrategy.class)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record UpdateConfigurationRequest(String runtime, String handler, Integer memorySize, Integer timeout,
                                             Environment environment, String description) {}

    @JsonNaming(PropertyNamingStrategies.UpperCamelCaseStrategy.class)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Environment(Map<String, String> variables) {}

    @JsonNaming(PropertyNamingStrategies.UpperCamelCaseStrategy.class)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record FunctionConfiguration(String functionName, String functionArn, String runtime, String handler,
                                        long codeSize, String description, int timeout, int memorySize,
                                        String lastModified, String codeSha256, String version, String state,
                                        String stateReason, String stateReasonCode, String lastUpdateStatus,
                                        String lastUpdateStatusReason, String lastUpdateStatusReasonCode, Environment environment, String packageType, List<String> architectures) {}

    @JsonNaming(PropertyNamingStrategies.UpperCamelCaseStrategy.class)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record CodeLocation(String repositoryType, String location) {}

    @JsonNaming(PropertyNamingStrategies.UpperCamelCaseStrategy.class)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record GetFunctionResponse(FunctionConfiguration configuration, CodeLocation code) {}

    @JsonNaming(PropertyNamingStrategies.UpperCamelCaseStrategy.class)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record ListFunctionsResponse(List<FunctionConfiguration> functions, String nextMarker) {}

    @JsonNaming(PropertyNamingStrategies.UpperCamelCaseStrategy.class)
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record ListVersionsResponse(List<FunctionConfiguration> versions, String nextMarker) {}
}
